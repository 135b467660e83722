package api

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authledger/authledger/internal/strictjson"
)

// InfisicalWebhookPath is always routed (DESIGN.md §5), configured or not.
const InfisicalWebhookPath = "/v1/webhooks/infisical"

// InfisicalSignatureHeader carries "t=<unix ms>;<hex HMAC-SHA256 of the body>".
const InfisicalSignatureHeader = "X-Infisical-Signature"

// DefaultWebhookTolerance is how far a webhook's timestamp may be from now.
const DefaultWebhookTolerance = 5 * time.Minute

var (
	// ErrWebhookDisabled: no webhook secret is configured, so no call can be
	// authenticated and every one is refused (503: the endpoint exists but
	// is switched off on this deployment, which is not the caller's fault).
	ErrWebhookDisabled = errors.New("api: the Infisical webhook is not configured")
	// ErrWebhookSignature covers a missing, malformed, wrong or stale
	// signature alike, so a caller learns nothing about which check failed.
	ErrWebhookSignature = errors.New("api: webhook signature missing, invalid or stale")
)

// InfisicalWebhook receives Infisical's project webhooks. Infisical signs
// each delivery with the webhook's secret key: the header is
// "t=<timestamp>;<signature>", timestamp in Unix milliseconds and signature
// the hex HMAC-SHA256 of the raw JSON body, whose "timestamp" member holds
// the same milliseconds. Only the body is MACed, so the header's t is
// trusted only when it equals the body's timestamp; both must be within
// Tolerance of now. A replay inside that window is not detected: the
// endpoint has no side effect yet that a replay could repeat.
type InfisicalWebhook struct {
	// Secret is the webhook secret key; empty refuses every call.
	Secret []byte
	// Tolerance bounds the timestamp's distance from now (default 5 min).
	Tolerance time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Limits, if set, charges every refused signature to the caller's
	// address failure budget (the webhook id stands in for the client id),
	// so the endpoint cannot be used to guess the secret at line rate.
	Limits RateLimiter
}

// webhookLimitID is the "client id" the webhook's failures are charged to.
const webhookLimitID = "webhook:infisical"

// Register implements Routes.
func (w InfisicalWebhook) Register(e *echo.Echo) { e.POST(InfisicalWebhookPath, w.handle) }

func (w InfisicalWebhook) handle(c echo.Context) error {
	if len(w.Secret) == 0 {
		return ErrWebhookDisabled
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err // the body limit's 413 or a broken connection
	}
	if !w.verify(c.Request().Header.Get(InfisicalSignatureHeader), body) {
		if w.Limits != nil {
			if wait, ok := w.Limits.ChargeFailure(c.Request().Context(), webhookLimitID, c.RealIP(), time.Now()); !ok {
				c.Response().Header().Set("Retry-After", retryAfter(wait))
				return NewProblem(http.StatusTooManyRequests, "rate-limited", "Too Many Requests", "too many refused webhook signatures from this address; retry later")
			}
		}
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, "Infisical-Signature")
		return ErrWebhookSignature
	}
	// Authentic bytes can still be read two ways (a duplicate "timestamp",
	// a second object after the first): refuse them. The schema is
	// Infisical's, so unknown members stay allowed.
	if err := strictjson.Check(body); err != nil {
		return badBody(strictFieldError(err))
	}
	// Authenticated, and deliberately nothing else yet: acting on the event
	// (re-reading rotated secrets from Infisical) is a later issue. 202 says
	// the delivery was accepted without claiming it was processed.
	return c.NoContent(http.StatusAccepted)
}

// verify checks header against body. Every failure is the same false.
func (w InfisicalWebhook) verify(header string, body []byte) bool {
	ts, sig, ok := strings.Cut(header, ";")
	if !ok || !strings.HasPrefix(ts, "t=") || len(sig) != 2*sha256.Size {
		return false
	}
	ms, err := strconv.ParseInt(ts[len("t="):], 10, 64)
	if err != nil {
		return false
	}
	got, err := hex.DecodeString(strings.ToLower(sig))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, w.Secret)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return false
	}
	// The body is authentic now; its timestamp is the one that counts.
	var payload struct {
		Timestamp *json.Number `json:"timestamp"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if dec.Decode(&payload) != nil || payload.Timestamp == nil || payload.Timestamp.String() != strconv.FormatInt(ms, 10) {
		return false
	}
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	tol := w.Tolerance
	if tol <= 0 {
		tol = DefaultWebhookTolerance
	}
	d := now().Sub(time.UnixMilli(ms))
	return d <= tol && d >= -tol
}
