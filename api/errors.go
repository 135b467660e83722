package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/oauth"
)

// OAuthErrorBody is the RFC 6749 §5.2 error response.
type OAuthErrorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
}

// isOAuthPath reports whether the request is on an OAuth endpoint, which
// answers RFC 6749 bodies instead of problem+json.
func isOAuthPath(p string) bool { return strings.HasPrefix(p, "/oauth2/") }

// ErrorHandler is the one error → HTTP mapping. What the client sees and
// what the log sees are separate: oauth.Error.Debug and wrapped causes only
// reach the log.
//
// A dependency outage (commands.Outage: the ledger, the secret provider or
// the session store out of service) answers 503 with Retry-After —
// temporarily_unavailable on /oauth2/*, a problem elsewhere — is counted
// in authledger_dependency_errors_total and logged at most once per
// dependency every few seconds, with the number of lines suppressed.
func ErrorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return errorHandler(log, nil, time.Now)
}

func errorHandler(log *slog.Logger, m *Metrics, now func() time.Time) echo.HTTPErrorHandler {
	outages := newOutageLog(log, outageLogEvery, now)
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		req := c.Request()
		rid := c.Response().Header().Get(echo.HeaderXRequestID)
		if dep, ok := commands.Outage(err); ok {
			m.dependencyError(dep)
			outages.error(dep, req.URL.Path, rid, err)
			answerOutage(c, dep)
			return
		}
		var he *echo.HTTPError
		if isOAuthPath(req.URL.Path) {
			oe := toOAuth(err)
			status := oauthStatus(oe)
			if status >= 500 {
				log.Error("oauth request failed", "path", req.URL.Path, "request_id", rid, "err", err)
			} else {
				log.Info("oauth request refused", "path", req.URL.Path, "request_id", rid, "error", oe.Code, "debug", oe.Debug)
			}
			h := c.Response().Header()
			h.Set("Cache-Control", "no-store")
			h.Set("Pragma", "no-cache")
			if status == http.StatusUnauthorized {
				h.Set("WWW-Authenticate", `Basic realm="authledger"`)
			}
			if errors.As(err, &he) && he.Code == http.StatusMethodNotAllowed {
				// RFC 9110 §15.5.6: a wrong method is 405 with the Allow
				// header echo's router already set, not a malformed request;
				// the body stays RFC 6749 for clients that parse it.
				status = http.StatusMethodNotAllowed
			}
			_ = c.JSON(status, OAuthErrorBody{Error: oe.Code, ErrorDescription: oe.Hint})
			return
		}
		var p *Problem
		if errors.As(err, &he) {
			p = NewProblem(he.Code, "http-"+strings.ToLower(strings.ReplaceAll(http.StatusText(he.Code), " ", "-")), http.StatusText(he.Code), httpErrorDetail(he))
		} else {
			p = problemFor(err)
		}
		if p.Status >= 500 {
			log.Error("request failed", "path", req.URL.Path, "request_id", rid, "err", err)
		}
		writeProblem(c, p)
	}
}

func writeProblem(c echo.Context, p *Problem) {
	body, _ := json.Marshal(p)
	_ = c.Blob(p.Status, "application/problem+json", body)
}

func httpErrorDetail(he *echo.HTTPError) string {
	if s, ok := he.Message.(string); ok && s != http.StatusText(he.Code) {
		return s
	}
	return ""
}

// oauthStatuses is the HTTP status of each RFC 6749 error code: 400 unless
// the RFC says otherwise. invalid_client is 401 (RFC 6749 §5.2: the client
// authenticated through the Authorization header, or tried to); slow_down is
// 429, the status of a spent rate limit (RFC 6585 §4); server_error and
// temporarily_unavailable stand for the 500 and 503 a redirect cannot carry
// (RFC 6749 §4.1.2.1), so they answer those statuses here.
var oauthStatuses = map[string]int{
	oauth.ErrInvalidRequest.Code:       http.StatusBadRequest,
	oauth.ErrInvalidClient.Code:        http.StatusUnauthorized,
	oauth.ErrInvalidGrant.Code:         http.StatusBadRequest,
	oauth.ErrUnauthorizedClient.Code:   http.StatusBadRequest,
	oauth.ErrUnsupportedGrantType.Code: http.StatusBadRequest,
	oauth.ErrInvalidScope.Code:         http.StatusBadRequest,
	oauth.ErrInvalidTarget.Code:        http.StatusBadRequest,
	oauth.ErrUnsupportedTokenType.Code: http.StatusBadRequest,
	oauth.ErrSlowDown.Code:             http.StatusTooManyRequests,
	oauth.ErrServerError.Code:          http.StatusInternalServerError,
	oauth.ErrTemporarilyUnavail.Code:   http.StatusServiceUnavailable,
	oauth.ErrInvalidDPoPProof.Code:     http.StatusBadRequest, // RFC 9449 §5
	oauth.ErrUseDPoPNonce.Code:         http.StatusBadRequest, // RFC 9449 §8
}

// oauthStatus is the HTTP status that answers e. A code the table does not
// know is a server bug, so it answers 500 rather than blame the client.
func oauthStatus(e *oauth.Error) int {
	if s, ok := oauthStatuses[e.Code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

func toOAuth(err error) *oauth.Error {
	var oe *oauth.Error
	if errors.As(err, &oe) {
		return oe
	}
	var he *echo.HTTPError
	if errors.As(err, &he) && he.Code < 500 {
		if he.Code == http.StatusTooManyRequests {
			return oauth.ErrSlowDown
		}
		return oauth.ErrInvalidRequest.WithHint(httpErrorDetail(he))
	}
	return oauth.ErrServerError.WithDebug(err.Error())
}
