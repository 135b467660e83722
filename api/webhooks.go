package api

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
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

// InfisicalEvents acts on authenticated Infisical deliveries; the
// composition root implements it over the Infisical secret provider.
type InfisicalEvents interface {
	// SecretsModified invalidates the cached secrets a change at (project,
	// environment, secretPath) touches and schedules their re-read. It
	// returns false when the change is not in this deployment's project,
	// environment and folder (the delivery is then acknowledged and ignored).
	SecretsModified(project, environment, secretPath string) (invalidated int, ours bool)
	// RotationFailed records that Infisical failed a secret rotation.
	RotationFailed(project, environment, secretPath string)
}

// InfisicalWebhook receives Infisical's project webhooks. Infisical signs
// each delivery with the webhook's secret key: the header is
// "t=<timestamp>;<signature>", timestamp in Unix milliseconds and signature
// the hex HMAC-SHA256 of the raw JSON body, whose "timestamp" member holds
// the same milliseconds. Only the body is MACed, so the header's t is
// trusted only when it equals the body's timestamp; both must be within
// Tolerance of now, and a delivery already accepted inside that window is
// refused as a replay (per instance: a replay sent to another instance is
// accepted once more there, and its only effect, a cache invalidation, is
// harmless to repeat).
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
	// Events acts on the deliveries; nil when the secret provider is not
	// Infisical (every valid delivery is then acknowledged and ignored).
	Events InfisicalEvents
	// Log receives one line per delivery saying what was done and why.
	Log *slog.Logger

	seen *seenDeliveries
}

// webhookLimitID is the "client id" the webhook's failures are charged to.
const webhookLimitID = "webhook:infisical"

// Register implements Routes.
func (w InfisicalWebhook) Register(e *echo.Echo) {
	w.seen = &seenDeliveries{at: map[[sha256.Size]byte]time.Time{}}
	if w.Log == nil {
		w.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	e.POST(InfisicalWebhookPath, w.handle)
}

// seenDeliveries remembers the MACs accepted within the tolerance window.
// Only authenticated deliveries get in, in arrival order, so the oldest
// are forgotten from the front of the queue.
type seenDeliveries struct {
	mu    sync.Mutex
	at    map[[sha256.Size]byte]time.Time
	order []seenMAC
}

type seenMAC struct {
	mac [sha256.Size]byte
	at  time.Time
}

// first records mac at now and says whether it is new. Entries older than
// twice the window are forgotten: the timestamp check refuses them anyway.
func (s *seenDeliveries) first(mac []byte, now time.Time, window time.Duration) bool {
	var k [sha256.Size]byte
	copy(k[:], mac)
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.order) > 0 && now.Sub(s.order[0].at) > 2*window {
		delete(s.at, s.order[0].mac)
		s.order = s.order[1:]
	}
	if _, dup := s.at[k]; dup {
		return false
	}
	s.at[k] = now
	s.order = append(s.order, seenMAC{mac: k, at: now})
	return true
}

func (w InfisicalWebhook) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

func (w InfisicalWebhook) tolerance() time.Duration {
	if w.Tolerance > 0 {
		return w.Tolerance
	}
	return DefaultWebhookTolerance
}

// infisicalDelivery is the part of Infisical's payload acted on. Older
// Infisical versions name the event "secret.modified" and the project
// "workspaceId"; newer ones "secrets.modified" and "projectId".
type infisicalDelivery struct {
	Event   string `json:"event"`
	Project struct {
		WorkspaceID string `json:"workspaceId"`
		ProjectID   string `json:"projectId"`
		Environment string `json:"environment"`
		SecretPath  string `json:"secretPath"`
	} `json:"project"`
}

func (w InfisicalWebhook) handle(c echo.Context) error {
	if len(w.Secret) == 0 {
		return ErrWebhookDisabled
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err // the body limit's 413 or a broken connection
	}
	mac, ok := w.verify(c.Request().Header.Get(InfisicalSignatureHeader), body)
	if !ok {
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
	if w.seen != nil && !w.seen.first(mac, w.now(), w.tolerance()) {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, "Infisical-Signature")
		return ErrWebhookSignature // a replay: the same answer as any bad signature
	}
	var d infisicalDelivery
	if err := json.Unmarshal(body, &d); err != nil {
		return badBody(FieldError{Field: "project", Detail: "not an Infisical webhook payload"})
	}
	project := d.Project.ProjectID
	if project == "" {
		project = d.Project.WorkspaceID
	}
	log := w.Log.With("event", d.Event, "project", project, "environment", d.Project.Environment, "secret_path", d.Project.SecretPath,
		"request_id", c.Response().Header().Get(echo.HeaderXRequestID))
	switch {
	case w.Events == nil:
		log.Info("infisical webhook ignored: the secret provider is not Infisical")
	case d.Event == "secrets.modified" || d.Event == "secret.modified":
		n, ours := w.Events.SecretsModified(project, d.Project.Environment, d.Project.SecretPath)
		if !ours {
			log.Info("infisical webhook ignored: another project, environment or path")
		} else {
			log.Info("infisical webhook: cached secrets invalidated, re-read scheduled", "invalidated", n)
		}
	case d.Event == "secrets.rotation-failed" || d.Event == "secret.rotation-failed":
		w.Events.RotationFailed(project, d.Project.Environment, d.Project.SecretPath)
		log.Warn("infisical webhook: Infisical reports a failed secret rotation")
	default:
		log.Info("infisical webhook ignored: an event authledger does not act on")
	}
	// 202: accepted; the re-read it schedules happens after the answer.
	return c.NoContent(http.StatusAccepted)
}

// ParseInfisicalSignature splits "t=<unix ms>;<64 hex digits>" into the
// timestamp and the MAC bytes. Any other shape is ok == false.
func ParseInfisicalSignature(header string) (ms int64, mac []byte, ok bool) {
	ts, sig, found := strings.Cut(header, ";")
	if !found || !strings.HasPrefix(ts, "t=") || len(sig) != 2*sha256.Size {
		return 0, nil, false
	}
	digits := ts[len("t="):]
	if digits == "" || len(digits) > 16 || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, nil, false
	}
	ms, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, nil, false
	}
	mac, err = hex.DecodeString(sig)
	if err != nil {
		return 0, nil, false
	}
	return ms, mac, true
}

// verify checks header against body and returns the MAC. Every failure is
// the same false.
func (w InfisicalWebhook) verify(header string, body []byte) ([]byte, bool) {
	ms, got, ok := ParseInfisicalSignature(header)
	if !ok {
		return nil, false
	}
	mac := hmac.New(sha256.New, w.Secret)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return nil, false
	}
	// The body is authentic now; its timestamp is the one that counts.
	var payload struct {
		Timestamp *json.Number `json:"timestamp"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if dec.Decode(&payload) != nil || payload.Timestamp == nil || payload.Timestamp.String() != strconv.FormatInt(ms, 10) {
		return nil, false
	}
	tol := w.tolerance()
	d := w.now().Sub(time.UnixMilli(ms))
	if d > tol || d < -tol {
		return nil, false
	}
	return got, true
}
