package login

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/labstack/echo/v4"

	"github.com/authledger/authledger/api"
	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/passkey"
	"github.com/authledger/authledger/domain/session"
)

// CeremonyCookie binds a begun ceremony to the browser. __Host- makes the
// browser insist on Secure, Path=/ and no Domain; browsers treat
// http://localhost as a secure context and keep it there too.
const CeremonyCookie = "__Host-authledger_ceremony"

// maxBody bounds a ceremony's JSON (an attestation with certificates is a
// few kilobytes).
const maxBody = 64 << 10

// SessionResolver turns a session cookie into its live record.
type SessionResolver interface {
	Resolve(ctx context.Context, rawToken string) (session.Record, error)
}

// SessionEnder ends a session (sign-out).
type SessionEnder interface {
	Handle(ctx context.Context, cmd commands.EndSession, meta commands.Metadata) error
}

// Config is what the passkey module needs. Every field is required except
// Limits, Log and Now.
type Config struct {
	RP          RelyingParty
	DisplayName string // shown by the authenticator; "authledger" by default
	Issuer      string // base of the enrolment links
	// StepUpMaxAge is how recent a verified authentication must be for a
	// sensitive operation (AUTHLEDGER_STEPUP_MAX_AGE, 5 min by default).
	StepUpMaxAge time.Duration
	// SessionLifetime is the session cookie's Max-Age.
	SessionLifetime time.Duration

	Register *commands.RegisterPasskeyHandler
	SignIn   *commands.PasskeySignInHandler
	Failures *commands.RecordSignInFailureHandler
	Manage   *commands.ManagePasskeyHandler
	Links    *commands.EnrolmentRepository
	Sessions SessionResolver
	End      SessionEnder
	// SessionList and Activity feed the account page.
	SessionList SessionLister
	Activity    ActivityFeed
	// Limits charges failed sign-ins per credential and per source
	// address, with the token endpoint's budgets.
	Limits     api.RateLimiter
	Challenges *Challenges
	// Upstreams, when set, adds the browser flow /login/oidc/<provider>
	// and lets an upstream sign-in enrol a subject's first passkey.
	Upstreams *Upstreams
	Log       *slog.Logger
	Now       func() time.Time
}

// Passkeys is the /login endpoint group.
type Passkeys struct {
	cfg Config
	wa  *webauthn.WebAuthn
}

// New builds the group.
func New(cfg Config) (*Passkeys, error) {
	var errs []error
	for name, missing := range map[string]bool{
		"RP.ID": cfg.RP.ID == "", "RP.Origins": len(cfg.RP.Origins) == 0, "Issuer": cfg.Issuer == "",
		"Register": cfg.Register == nil, "SignIn": cfg.SignIn == nil, "Failures": cfg.Failures == nil,
		"Manage": cfg.Manage == nil, "Links": cfg.Links == nil, "Sessions": cfg.Sessions == nil, "End": cfg.End == nil, "SessionList": cfg.SessionList == nil,
		"Challenges": cfg.Challenges == nil, "StepUpMaxAge": cfg.StepUpMaxAge <= 0, "SessionLifetime": cfg.SessionLifetime <= 0,
	} {
		if missing {
			errs = append(errs, errors.New("login: "+name+" is required"))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.DisplayName == "" {
		cfg.DisplayName = "authledger"
	}
	if cfg.Activity == nil {
		cfg.Activity = LedgerActivity{Manage: cfg.Manage}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID: cfg.RP.ID, RPDisplayName: cfg.DisplayName, RPOrigins: slices.Clone(cfg.RP.Origins),
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementRequired, RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification: protocol.VerificationRequired,
		},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: ChallengeLifetime, TimeoutUVD: ChallengeLifetime},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: ChallengeLifetime, TimeoutUVD: ChallengeLifetime},
		},
	})
	if err != nil {
		return nil, err
	}
	return &Passkeys{cfg: cfg, wa: wa}, nil
}

// Register implements api.Routes.
func (p *Passkeys) Register(e *echo.Echo) {
	g := e.Group("/login", p.headers)
	g.GET("", p.page("login.html"))
	g.GET("/enrol", p.page("enrol.html"))
	g.GET("/static/:file", p.static)
	g.GET("/oidc/:provider", p.oidcStart)
	g.GET("/oidc/:provider/callback", p.oidcCallback)
	post := g.Group("", p.sameOrigin)
	post.POST("/passkey/register/options", p.registerOptions)
	post.POST("/passkey/register", p.registerFinish)
	post.POST("/passkey/signin/options", p.signInOptions)
	post.POST("/passkey/signin", p.signInFinish)
	post.POST("/passkey/stepup/options", p.stepUpOptions)
	post.POST("/passkey/stepup", p.stepUpFinish)
	post.POST("/logout", p.logout)

	acct := e.Group("/account", p.headers)
	acct.GET("", p.account)
	unsafe := acct.Group("", p.sameOrigin)
	unsafe.POST("/passkeys/rename", p.renamePasskey)
	unsafe.POST("/passkeys/remove", p.removePasskey)
	unsafe.POST("/sessions/end", p.endSession)
	unsafe.POST("/sessions/end-others", p.endOtherSessions)
}

// headers are every /login answer's: no caching, no framing, a strict CSP
// with no inline script, no referrer (an enrolment link's code is in its
// query).
func (p *Passkeys) headers(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		securityHeaders(c.Response().Header())
		return next(c)
	}
}

// ContentSecurityPolicy is the CSP of every page the module serves.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func securityHeaders(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}

// sameOrigin is the CSRF defence of every unsafe request: the browser-set
// Origin must be one of the relying party's origins (SameSite cookies are
// the second line). A missing Origin is refused.
func (p *Passkeys) sameOrigin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !slices.Contains(p.cfg.RP.Origins, c.Request().Header.Get("Origin")) {
			return api.NewProblem(http.StatusForbidden, "origin-not-allowed", "Forbidden", "the request's Origin is not one of the sign-in origins")
		}
		return next(c)
	}
}

func (p *Passkeys) meta(c echo.Context) commands.Metadata { return api.RequestMetadata(c) }

// webUser is a subject as go-webauthn sees it: the user handle is the
// subject id itself, so a discoverable credential names whose stream to
// load.
type webUser struct {
	subject string
	creds   []webauthn.Credential
}

func (u webUser) WebAuthnID() []byte                         { return []byte(u.subject) }
func (u webUser) WebAuthnName() string                       { return u.subject }
func (u webUser) WebAuthnDisplayName() string                { return u.subject }
func (u webUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

func toWebAuthn(cr passkey.Credential) (webauthn.Credential, error) {
	id, err := base64.RawURLEncoding.DecodeString(cr.ID)
	if err != nil {
		return webauthn.Credential{}, err
	}
	aaguid, _ := base64.RawURLEncoding.DecodeString(cr.AAGUID)
	tr := make([]protocol.AuthenticatorTransport, len(cr.Transports))
	for i, t := range cr.Transports {
		tr[i] = protocol.AuthenticatorTransport(t)
	}
	return webauthn.Credential{ID: id, PublicKey: cr.PublicKey, AttestationType: cr.AttestationType, Transport: tr,
		Flags:         webauthn.CredentialFlags{UserPresent: true, UserVerified: true, BackupEligible: cr.BackupEligible, BackupState: cr.BackupState},
		Authenticator: webauthn.Authenticator{AAGUID: aaguid, SignCount: cr.SignCount}}, nil
}

func (p *Passkeys) user(ctx context.Context, subject string) (webUser, error) {
	cs, err := p.cfg.Manage.Load(ctx, subject)
	if err != nil {
		return webUser{}, err
	}
	return toUser(subject, cs.List())
}

// cachedUser is user from this instance's cache when it knows the
// credential, the ledger otherwise.
func (p *Passkeys) cachedUser(ctx context.Context, subject string, credential []byte) (webUser, error) {
	cs, err := p.cfg.Manage.Cached(ctx, subject)
	if err != nil {
		return webUser{}, err
	}
	u, err := toUser(subject, cs.List())
	if err != nil || slices.ContainsFunc(u.creds, func(w webauthn.Credential) bool { return bytes.Equal(w.ID, credential) }) {
		return u, err
	}
	return p.user(ctx, subject)
}

func toUser(subject string, list []passkey.Credential) (webUser, error) {
	u := webUser{subject: subject}
	for _, cr := range list {
		w, err := toWebAuthn(cr)
		if err != nil {
			return webUser{}, err
		}
		u.creds = append(u.creds, w)
	}
	return u, nil
}

func (p *Passkeys) setCeremony(c echo.Context, cer ceremony) error {
	return p.setCeremonyWith(c, cer, http.SameSiteStrictMode)
}

func (p *Passkeys) setCeremonyWith(c echo.Context, cer ceremony, same http.SameSite) error {
	raw, err := p.cfg.Challenges.put(c.Request().Context(), cer)
	if err != nil {
		return ceremonyStoreError(err)
	}
	c.SetCookie(&http.Cookie{Name: CeremonyCookie, Value: raw, Path: "/", MaxAge: int(ChallengeLifetime / time.Second),
		HttpOnly: true, Secure: true, SameSite: same})
	return nil
}

// takeCeremony spends the ceremony cookie (single use) and clears it. A
// store that does not answer is an error (503), never a pass.
func (p *Passkeys) takeCeremony(c echo.Context, kind string) (ceremony, bool, error) {
	c.SetCookie(&http.Cookie{Name: CeremonyCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	ck, err := c.Cookie(CeremonyCookie)
	if err != nil {
		return ceremony{}, false, nil
	}
	cer, ok, err := p.cfg.Challenges.take(c.Request().Context(), ck.Value, kind)
	return cer, ok, ceremonyStoreError(err)
}

func ceremonyStoreError(err error) error {
	if errors.Is(err, ErrCeremonyStore) {
		return api.NewProblem(http.StatusServiceUnavailable, "ceremony-store-unavailable", "Service Unavailable", "sign-in is unavailable; retry later")
	}
	return err
}

func (p *Passkeys) setSession(c echo.Context, token string) {
	c.SetCookie(&http.Cookie{Name: api.SessionCookie, Value: token, Path: "/", MaxAge: int(p.cfg.SessionLifetime / time.Second),
		HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
}

func (p *Passkeys) currentSession(c echo.Context) (session.Record, error) {
	ck, err := c.Cookie(api.SessionCookie)
	if err != nil || ck.Value == "" {
		return session.Record{}, errSignInRequired
	}
	rec, err := p.cfg.Sessions.Resolve(c.Request().Context(), ck.Value)
	if errors.Is(err, session.ErrNotFound) || errors.Is(err, session.ErrExpired) || errors.Is(err, session.ErrEnded) {
		return session.Record{}, errSignInRequired
	}
	return rec, err
}

// Problems of the module.
var (
	errSignInRequired = api.NewProblem(http.StatusUnauthorized, "session-invalid", "Unauthorized", "a signed-in session is required")
	errChallenge      = api.NewProblem(http.StatusBadRequest, "ceremony-invalid", "Bad Request", "the ceremony is unknown, spent or expired: start again")
	errSignInFailed   = api.NewProblem(http.StatusUnauthorized, "passkey-invalid", "Unauthorized", "the passkey could not be verified")
	errEnrolment      = api.NewProblem(http.StatusForbidden, "enrolment-invalid", "Forbidden", "the enrolment link is not valid, already used or expired")
)

func readBody(c echo.Context) ([]byte, error) {
	if mt, _, _ := strings.Cut(c.Request().Header.Get(echo.HeaderContentType), ";"); !strings.EqualFold(strings.TrimSpace(mt), echo.MIMEApplicationJSON) {
		return nil, api.NewProblem(http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported Media Type", "the body must be application/json")
	}
	b, err := io.ReadAll(io.LimitReader(c.Request().Body, maxBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxBody {
		return nil, api.NewProblem(http.StatusRequestEntityTooLarge, "body-too-large", "Content Too Large", "the body is too large")
	}
	return b, nil
}

func decodeStrict(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil || d.More() {
		return api.NewProblem(http.StatusBadRequest, "invalid-request", "Bad Request", "the request body is not valid")
	}
	return nil
}

type registerOptionsRequest struct {
	Code string `json:"code,omitempty"`
}

// registerOptions begins a registration: with an enrolment code for a
// first passkey, or on a signed-in, recently verified session.
func (p *Passkeys) registerOptions(c echo.Context) error {
	ctx := c.Request().Context()
	b, err := readBody(c)
	if err != nil {
		return err
	}
	var req registerOptionsRequest
	if err := decodeStrict(b, &req); err != nil {
		return err
	}
	cer := ceremony{Kind: "register"}
	now := p.cfg.Now().UTC()
	if req.Code != "" {
		subject, err := commands.CheckEnrolment(ctx, p.cfg.Links, req.Code, now)
		if err != nil {
			return enrolmentError(err)
		}
		cer.Subject, cer.Enrolment = subject, req.Code
	} else {
		rec, err := p.currentSession(c)
		if err != nil {
			return err
		}
		if err := p.mayRegister(c, rec); err != nil {
			return err
		}
		cer.Subject, cer.SessionID = rec.Subject, rec.ID
	}
	u, err := p.user(ctx, cer.Subject)
	if err != nil {
		return err
	}
	exclude := make([]protocol.CredentialDescriptor, 0, len(u.creds))
	for _, cr := range u.creds {
		exclude = append(exclude, cr.Descriptor())
	}
	opts, sd, err := p.wa.BeginRegistration(u, webauthn.WithExclusions(exclude),
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired))
	if err != nil {
		return err
	}
	cer.Data = *sd
	if err := p.setCeremony(c, cer); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, opts)
}

func enrolmentError(err error) error {
	if errors.Is(err, passkey.ErrEnrolmentInvalid) || errors.Is(err, passkey.ErrEnrolmentUsed) || errors.Is(err, passkey.ErrEnrolmentExpired) {
		return errEnrolment
	}
	return err
}

type registerRequest struct {
	Name       string          `json:"name"`
	Credential json.RawMessage `json:"credential"`
}

func (p *Passkeys) registerFinish(c echo.Context) error {
	ctx := c.Request().Context()
	cer, ok, err := p.takeCeremony(c, "register")
	if err != nil {
		return err
	}
	if !ok {
		return errChallenge
	}
	b, err := readBody(c)
	if err != nil {
		return err
	}
	var req registerRequest
	if err := decodeStrict(b, &req); err != nil {
		return err
	}
	if req.Name == "" {
		req.Name = "passkey"
	}
	if len(req.Name) > passkey.MaxNameLength {
		return api.NewProblem(http.StatusBadRequest, "invalid-request", "Bad Request", "name must be at most 64 bytes")
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(req.Credential)
	if err != nil {
		return api.NewProblem(http.StatusBadRequest, "passkey-invalid", "Bad Request", "the registration response could not be parsed")
	}
	u, err := p.user(ctx, cer.Subject)
	if err != nil {
		return err
	}
	cred, err := p.wa.CreateCredential(u, cer.Data, parsed)
	if err != nil {
		p.cfg.Log.Info("passkey registration refused", "subject", cer.Subject, "err", err)
		return api.NewProblem(http.StatusBadRequest, "passkey-invalid", "Bad Request", "the registration response could not be verified")
	}
	tr := make([]string, len(cred.Transport))
	for i, t := range cred.Transport {
		tr[i] = string(t)
	}
	reg := passkey.Registered{Credential: base64.RawURLEncoding.EncodeToString(cred.ID), PublicKey: cred.PublicKey,
		SignCount: cred.Authenticator.SignCount, AAGUID: base64.RawURLEncoding.EncodeToString(cred.Authenticator.AAGUID), Name: req.Name,
		Transports: tr, AttestationType: cred.AttestationType, BackupEligible: cred.Flags.BackupEligible, BackupState: cred.Flags.BackupState, Via: "session"}
	if cer.SessionID != "" {
		// The session must still be recent now, not only at the start.
		rec, err := p.currentSession(c)
		if err != nil || rec.ID != cer.SessionID {
			return errSignInRequired
		}
		if err := p.mayRegister(c, rec); err != nil {
			return err
		}
	}
	err = p.cfg.Register.Handle(ctx, commands.RegisterPasskey{Subject: cer.Subject, Credential: reg, EnrolmentCode: cer.Enrolment}, p.meta(c))
	switch {
	case err == nil:
	case errors.Is(err, passkey.ErrDuplicate):
		return api.NewProblem(http.StatusConflict, "passkey-exists", "Conflict", "this passkey is already registered")
	case errors.Is(err, passkey.ErrTooMany):
		return api.NewProblem(http.StatusConflict, "too-many-passkeys", "Conflict", "this account holds the most passkeys allowed")
	case errors.Is(err, passkey.ErrInvalid):
		return api.NewProblem(http.StatusBadRequest, "invalid-request", "Bad Request", "the passkey could not be registered")
	default:
		return enrolmentError(err)
	}
	return c.JSON(http.StatusCreated, map[string]string{"credential": reg.Credential, "subject": cer.Subject})
}

func (p *Passkeys) signInOptions(c echo.Context) error {
	opts, sd, err := p.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return err
	}
	if err := p.setCeremony(c, ceremony{Kind: "sign_in", Data: *sd}); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, opts)
}

// fail records a refused sign-in in the ledger, charges the failure
// budgets (per credential and per source address, as the token endpoint
// does per client), and answers 401, or 429 once a budget is spent.
func (p *Passkeys) fail(c echo.Context, subject, credential, reason string) error {
	ctx := c.Request().Context()
	if err := p.cfg.Failures.Handle(context.WithoutCancel(ctx), subject, credential, reason, p.meta(c)); err != nil {
		p.cfg.Log.Error("record passkey failure", "err", err)
	}
	if p.cfg.Limits != nil {
		key := "passkey:" + credential
		if credential == "" {
			key = "passkey:-"
		}
		if wait, ok := p.cfg.Limits.ChargeFailure(ctx, key, api.SourceAddress(c), p.cfg.Now()); !ok {
			c.Response().Header().Set("Retry-After", retryAfter(wait))
			return api.NewProblem(http.StatusTooManyRequests, "rate-limited", "Too Many Requests", "too many failed sign-ins; retry later")
		}
	}
	if reason == passkey.ReasonChallenge {
		return errChallenge
	}
	return errSignInFailed
}

// retryAfter is a Retry-After value: whole seconds, at least 1.
func retryAfter(wait time.Duration) string {
	return strconv.Itoa(max(1, int((wait+time.Second-1)/time.Second)))
}

// assertion parses and verifies an assertion against a ceremony. It
// returns the subject (the user handle), the credential id and the counter
// go-webauthn verified, or the reason to record.
func (p *Passkeys) assertion(c echo.Context, cer ceremony) (subject, credential string, count uint32, reason string) {
	ctx := c.Request().Context()
	b, err := readBody(c)
	if err != nil {
		return "", "", 0, passkey.ReasonMalformed
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(b)
	if err != nil {
		return "", "", 0, passkey.ReasonMalformed
	}
	credential = base64.RawURLEncoding.EncodeToString(parsed.RawID)
	subject = string(parsed.Response.UserHandle)
	if cer.Kind == "step_up" {
		if subject != "" && subject != cer.Subject {
			return cer.Subject, credential, 0, passkey.ReasonWrongSubject
		}
		subject = cer.Subject
	}
	if subject == "" {
		return "", credential, 0, passkey.ReasonUnknownCredential
	}
	u, err := p.cachedUser(ctx, subject, parsed.RawID)
	if err != nil {
		return "", credential, 0, passkey.ReasonUnknownCredential
	}
	if !slices.ContainsFunc(u.creds, func(w webauthn.Credential) bool { return bytes.Equal(w.ID, parsed.RawID) }) {
		return subject, credential, 0, passkey.ReasonUnknownCredential
	}
	if !parsed.Response.AuthenticatorData.Flags.HasUserVerified() {
		return subject, credential, 0, passkey.ReasonUserVerification
	}
	var cred *webauthn.Credential
	if cer.Kind == "step_up" {
		cred, err = p.wa.ValidateLogin(u, cer.Data, parsed)
	} else {
		_, cred, err = p.wa.ValidatePasskeyLogin(func(_, _ []byte) (webauthn.User, error) { return u, nil }, cer.Data, parsed)
	}
	if err != nil {
		p.cfg.Log.Info("passkey assertion refused", "subject", subject, "err", err)
		return subject, credential, 0, passkey.ReasonVerification
	}
	return subject, credential, cred.Authenticator.SignCount, ""
}

func (p *Passkeys) signInFinish(c echo.Context) error {
	cer, ok, err := p.takeCeremony(c, "sign_in")
	if err != nil {
		return err
	}
	if !ok {
		return p.fail(c, "", "", passkey.ReasonChallenge)
	}
	subject, credential, count, reason := p.assertion(c, cer)
	if reason != "" {
		return p.fail(c, subject, credential, reason)
	}
	out, err := p.cfg.SignIn.Handle(c.Request().Context(), commands.PasskeySignIn{Subject: subject, Credential: credential, SignCount: count}, p.meta(c))
	if err != nil {
		return p.refused(c, err, credential)
	}
	p.setSession(c, out.SessionToken)
	return c.JSON(http.StatusOK, map[string]string{"session_id": out.SessionID, "subject": subject})
}

// refused maps a sign-in the ledger decision refused (already recorded).
func (p *Passkeys) refused(c echo.Context, err error, credential string) error {
	if errors.Is(err, passkey.ErrCloneSuspected) || errors.Is(err, passkey.ErrUnknownCredential) {
		if p.cfg.Limits != nil {
			if wait, ok := p.cfg.Limits.ChargeFailure(c.Request().Context(), "passkey:"+credential, api.SourceAddress(c), p.cfg.Now()); !ok {
				c.Response().Header().Set("Retry-After", retryAfter(wait))
				return api.NewProblem(http.StatusTooManyRequests, "rate-limited", "Too Many Requests", "too many failed sign-ins; retry later")
			}
		}
		return errSignInFailed
	}
	return err
}

// mayRegister says whether a session may add a passkey: a recent
// user-verified one, or a recent upstream sign-in of a subject who holds
// no passkey yet (the upstream is then the enrolment proof).
func (p *Passkeys) mayRegister(c echo.Context, rec session.Record) error {
	fresh := p.cfg.Now().Sub(rec.AuthTime) <= p.cfg.StepUpMaxAge
	if fresh && rec.ACR == commands.ACRUpstream {
		cs, err := p.cfg.Manage.Load(c.Request().Context(), rec.Subject)
		if err != nil {
			return err
		}
		if len(cs.List()) == 0 {
			return nil
		}
	}
	return p.recent(c, rec)
}

// recent is the step-up rule: the session's last authentication is within
// StepUpMaxAge and user-verified. A refusal is RFC 9470's challenge.
func (p *Passkeys) recent(c echo.Context, rec session.Record) error {
	if rec.ACR == commands.ACRUserVerified && p.cfg.Now().Sub(rec.AuthTime) <= p.cfg.StepUpMaxAge {
		return nil
	}
	return StepUpRequired(c, p.cfg.StepUpMaxAge)
}

// StepUpRequired answers RFC 9470 §3's challenge: the caller must
// authenticate again, user-verified, within maxAge.
func StepUpRequired(c echo.Context, maxAge time.Duration) error {
	return api.StepUpChallenge(c, commands.ACRUserVerified, maxAge)
}

func (p *Passkeys) stepUpOptions(c echo.Context) error {
	rec, err := p.currentSession(c)
	if err != nil {
		return err
	}
	u, err := p.user(c.Request().Context(), rec.Subject)
	if err != nil {
		return err
	}
	if len(u.creds) == 0 {
		return api.NewProblem(http.StatusConflict, "no-passkey", "Conflict", "this account has no passkey to step up with")
	}
	opts, sd, err := p.wa.BeginLogin(u, webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return err
	}
	if err := p.setCeremony(c, ceremony{Kind: "step_up", Data: *sd, Subject: rec.Subject, SessionID: rec.ID}); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, opts)
}

func (p *Passkeys) stepUpFinish(c echo.Context) error {
	cer, ok, err := p.takeCeremony(c, "step_up")
	if err != nil {
		return err
	}
	if !ok {
		return p.fail(c, "", "", passkey.ReasonChallenge)
	}
	rec, err := p.currentSession(c)
	if err != nil || rec.ID != cer.SessionID {
		return errSignInRequired
	}
	subject, credential, count, reason := p.assertion(c, cer)
	if reason != "" {
		return p.fail(c, subject, credential, reason)
	}
	out, err := p.cfg.SignIn.Handle(c.Request().Context(), commands.PasskeySignIn{Subject: subject, Credential: credential, SignCount: count, SessionID: rec.ID}, p.meta(c))
	if err != nil {
		return p.refused(c, err, credential)
	}
	p.setSession(c, out.SessionToken)
	return c.JSON(http.StatusOK, map[string]string{"session_id": out.SessionID, "acr": commands.ACRUserVerified})
}

func (p *Passkeys) logout(c echo.Context) error {
	rec, err := p.currentSession(c)
	if err == nil {
		if err := p.cfg.End.Handle(c.Request().Context(), commands.EndSession{SessionID: rec.ID, Subject: rec.Subject, Reason: "logout"}, p.meta(c)); err != nil {
			return err
		}
	} else if !errors.Is(err, errSignInRequired) {
		return err
	}
	c.SetCookie(&http.Cookie{Name: api.SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	return c.NoContent(http.StatusNoContent)
}
