package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"authledger/domain/oauth"
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
func ErrorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		req := c.Request()
		rid := c.Response().Header().Get(echo.HeaderXRequestID)
		var he *echo.HTTPError
		if isOAuthPath(req.URL.Path) {
			oe := toOAuth(err)
			if oe.Status >= 500 {
				log.Error("oauth request failed", "path", req.URL.Path, "request_id", rid, "err", err)
			} else {
				log.Info("oauth request refused", "path", req.URL.Path, "request_id", rid, "error", oe.Code, "debug", oe.Debug)
			}
			h := c.Response().Header()
			h.Set("Cache-Control", "no-store")
			h.Set("Pragma", "no-cache")
			if oe.Status == http.StatusUnauthorized {
				h.Set("WWW-Authenticate", `Basic realm="authledger"`)
			}
			status := oe.Status
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
		body, _ := json.Marshal(p)
		_ = c.Blob(p.Status, "application/problem+json", body)
	}
}

func httpErrorDetail(he *echo.HTTPError) string {
	if s, ok := he.Message.(string); ok && s != http.StatusText(he.Code) {
		return s
	}
	return ""
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
