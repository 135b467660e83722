package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/authledger/authledger/domain/oauth"
)

func TestOAuthErrorsMapToTheirHTTPStatus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
	}{
		{"invalid_request is 400", oauth.ErrInvalidRequest, http.StatusBadRequest, "invalid_request"},
		{"invalid_client is 401 with a Basic challenge", oauth.ErrInvalidClient, http.StatusUnauthorized, "invalid_client"},
		{"invalid_grant is 400", oauth.ErrInvalidGrant, http.StatusBadRequest, "invalid_grant"},
		{"unauthorized_client is 400", oauth.ErrUnauthorizedClient, http.StatusBadRequest, "unauthorized_client"},
		{"unsupported_grant_type is 400", oauth.ErrUnsupportedGrantType, http.StatusBadRequest, "unsupported_grant_type"},
		{"invalid_scope is 400", oauth.ErrInvalidScope, http.StatusBadRequest, "invalid_scope"},
		{"invalid_target is 400 (RFC 8707)", oauth.ErrInvalidTarget, http.StatusBadRequest, "invalid_target"},
		{"unsupported_token_type is 400 (RFC 7009)", oauth.ErrUnsupportedTokenType, http.StatusBadRequest, "unsupported_token_type"},
		{"slow_down is 429", oauth.ErrSlowDown, http.StatusTooManyRequests, "slow_down"},
		{"server_error is 500", oauth.ErrServerError, http.StatusInternalServerError, "server_error"},
		{"temporarily_unavailable is 503", oauth.ErrTemporarilyUnavail, http.StatusServiceUnavailable, "temporarily_unavailable"},
		{"a hinted copy keeps its sentinel's status", oauth.ErrInvalidClient.WithHint("bad secret").WithDebug("log only"), http.StatusUnauthorized, "invalid_client"},
		{"a wrapped error keeps its status", fmt.Errorf("grant: %w", oauth.ErrInvalidGrant), http.StatusBadRequest, "invalid_grant"},
		{"a code the table does not know is a server error, not the client's fault", &oauth.Error{Code: "made_up"}, http.StatusInternalServerError, "made_up"},
		{"a plain error is server_error", errors.New("boom"), http.StatusInternalServerError, "server_error"},
		{"echo's 429 is slow_down", echo.NewHTTPError(http.StatusTooManyRequests), http.StatusTooManyRequests, "slow_down"},
		{"another echo 4xx is invalid_request", echo.NewHTTPError(http.StatusUnsupportedMediaType, "form body required"), http.StatusBadRequest, "invalid_request"},
		{"echo's 405 keeps its status with an RFC 6749 body", echo.ErrMethodNotAllowed, http.StatusMethodNotAllowed, "invalid_request"},
	}
	h := ErrorHandler(slog.New(slog.DiscardHandler))
	e := echo.New()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			h(tc.err, e.NewContext(httptest.NewRequest(http.MethodPost, "/oauth2/token", nil), rec))
			var body OAuthErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if rec.Code != tc.wantStatus || body.Error != tc.wantCode {
				t.Fatalf("answered %d %q, want %d %q", rec.Code, body.Error, tc.wantStatus, tc.wantCode)
			}
			challenge := rec.Header().Get("WWW-Authenticate")
			if (tc.wantStatus == http.StatusUnauthorized) != (challenge != "") {
				t.Fatalf("status %d with WWW-Authenticate %q", rec.Code, challenge)
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-store" {
				t.Fatalf("Cache-Control %q", got)
			}
		})
	}
}

func TestEveryOAuthSentinelHasAStatus(t *testing.T) {
	t.Parallel()
	for _, e := range []*oauth.Error{oauth.ErrInvalidRequest, oauth.ErrInvalidClient, oauth.ErrInvalidGrant,
		oauth.ErrUnauthorizedClient, oauth.ErrUnsupportedGrantType, oauth.ErrInvalidScope, oauth.ErrInvalidTarget,
		oauth.ErrUnsupportedTokenType, oauth.ErrSlowDown, oauth.ErrServerError, oauth.ErrTemporarilyUnavail} {
		if _, ok := oauthStatuses[e.Code]; !ok {
			t.Errorf("%s has no HTTP status in api/errors.go", e.Code)
		}
	}
}
