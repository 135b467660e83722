package api

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/session"
	"github.com/authledger/authledger/domain/token"
	"github.com/authledger/authledger/internal/strictjson"
)

// SessionCookie is the session cookie's name. The __Host- prefix makes
// browsers insist on Secure, Path=/ and no Domain (RFC 6265bis §4.1.3.2).
const SessionCookie = "__Host-authledger_session"

// SessionsCreateScope lets a login service start and elevate sessions.
const SessionsCreateScope = "sessions:create"

// Sessions is the browser-session API of DESIGN.md §5:
//
//	POST   /v1/sessions              login service (scope sessions:create) starts a session
//	POST   /v1/sessions/:id/elevate  login service records a step-up; the token rotates
//	GET    /v1/sessions              the caller's own sessions (cookie or user bearer token)
//	DELETE /v1/sessions/:id          ends one of the caller's sessions
//	POST   /v1/session/token         session cookie → 10-minute access JWT (CSRF: Origin allow-list)
type Sessions struct {
	uc      SessionUseCases
	clients ClientLookup
	origins []string
	// Absolute is the cookie's Max-Age: the session's absolute lifetime.
	absolute time.Duration
}

// NewSessions builds the group. allowedOrigins are exact origins
// ("https://app.example.com") allowed to use the cookie on unsafe requests.
func NewSessions(uc SessionUseCases, allowedOrigins []string, absolute time.Duration) *Sessions {
	return &Sessions{uc: uc, origins: slices.Clone(allowedOrigins), absolute: absolute}
}

// ErrNoClientDirectory: the sessions API was built without the service
// registry, so it cannot tell whether a login service is still enabled and
// refuses to act for one (fail closed).
var ErrNoClientDirectory = errors.New("api: sessions: no client directory to check login services against")

// RequireActiveClients makes the login-service endpoints check the calling
// client against the service registry on every request: a login service
// disabled after its 30-minute M2M token was minted can no longer start or
// elevate sessions with it. Without it those endpoints refuse every call.
func (s *Sessions) RequireActiveClients(dir ClientLookup) *Sessions {
	s.clients = dir
	return s
}

// Register implements Routes.
func (s *Sessions) Register(e *echo.Echo) {
	e.POST("/v1/sessions", s.start)
	e.POST("/v1/sessions/:id/elevate", s.elevate)
	e.GET("/v1/sessions", s.list, s.cors)
	e.DELETE("/v1/sessions/:id", s.end, s.cors)
	e.POST("/v1/session/token", s.token, s.cors)
	for _, p := range []string{"/v1/sessions", "/v1/sessions/:id", "/v1/session/token"} {
		e.OPTIONS(p, s.preflight)
	}
}

// cors lets the configured browser origins read the cookie endpoints'
// answers with credentials (Fetch standard); other origins get no CORS
// headers, so their scripts cannot read anything.
func (s *Sessions) cors(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		s.allowOrigin(c)
		return next(c)
	}
}

func (s *Sessions) allowOrigin(c echo.Context) bool {
	h := c.Response().Header()
	h.Add("Vary", "Origin")
	o := c.Request().Header.Get("Origin")
	if o == "" || !slices.Contains(s.origins, o) {
		return false
	}
	h.Set("Access-Control-Allow-Origin", o)
	h.Set("Access-Control-Allow-Credentials", "true")
	return true
}

func (s *Sessions) preflight(c echo.Context) error {
	if !s.allowOrigin(c) {
		return c.NoContent(http.StatusNoContent)
	}
	h := c.Response().Header()
	h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
	h.Set("Access-Control-Max-Age", "600")
	return c.NoContent(http.StatusNoContent)
}

// startRequest is the POST /v1/sessions body.
type startRequest struct {
	Subject string   `json:"subject"`
	AMR     []string `json:"amr"`
	ACR     string   `json:"acr"`
}

func (r startRequest) check() []FieldError {
	var errs []FieldError
	if r.Subject == "" || len(r.Subject) > 255 {
		errs = append(errs, FieldError{Field: "subject", Detail: "must be 1-255 characters"})
	}
	if len(r.ACR) > 255 {
		errs = append(errs, FieldError{Field: "acr", Detail: "must be at most 255 characters"})
	}
	if len(r.AMR) > 16 {
		errs = append(errs, FieldError{Field: "amr", Detail: "must hold at most 16 methods"})
	}
	for _, m := range r.AMR {
		if m == "" || len(m) > 64 {
			errs = append(errs, FieldError{Field: "amr", Detail: "each method must be 1-64 characters"})
			break
		}
	}
	return errs
}

// StartSessionResponse is the 201 body of POST /v1/sessions.
type StartSessionResponse struct {
	SessionToken string `json:"session_token"`
	SessionID    string `json:"session_id"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
}

func badBody(errs ...FieldError) error {
	p := NewProblem(http.StatusBadRequest, "invalid-request", "Bad Request", "the request body is not valid")
	p.Errors = errs
	return p
}

func decodeJSON(c echo.Context, v any) error {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if mt, _, _ := strings.Cut(ct, ";"); !strings.EqualFold(strings.TrimSpace(mt), echo.MIMEApplicationJSON) {
		return NewProblem(http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported Media Type", "the body must be application/json")
	}
	b, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err // the body limit's 413 or a broken connection
	}
	if err := strictjson.Unmarshal(b, v); err != nil {
		return badBody(strictFieldError(err))
	}
	return nil
}

// strictFieldError names what a strict decode refused and where: a
// duplicate, unknown or case-variant key, trailing data, a wrong type.
func strictFieldError(err error) FieldError {
	var se *strictjson.Error
	if !errors.As(err, &se) {
		return FieldError{Field: "body", Detail: "must be a JSON object with the documented fields"}
	}
	field := "body"
	if se.Path != "" {
		field = se.Path
	}
	return FieldError{Field: field, Detail: se.Detail()}
}

// loginService admits a bearer token holding scope sessions:create whose
// client is still active.
func (s *Sessions) loginService(c echo.Context) (token.AccessClaims, error) {
	cl, err := s.bearer(c)
	if err != nil {
		return cl, err
	}
	if !slices.Contains(strings.Fields(cl.Scope), SessionsCreateScope) {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="authledger", error="insufficient_scope", scope="`+SessionsCreateScope+`"`)
		return cl, NewProblem(http.StatusForbidden, "insufficient-scope", "Forbidden", "scope "+SessionsCreateScope+" is required")
	}
	if s.clients == nil {
		return cl, ErrNoClientDirectory
	}
	if err := requireActiveClient(c, s.clients, cl.ClientID); err != nil {
		return cl, err
	}
	return cl, nil
}

func (s *Sessions) bearer(c echo.Context) (token.AccessClaims, error) {
	raw := bearerToken(c.Request())
	if raw == "" {
		return token.AccessClaims{}, errBearerMissing(c)
	}
	cl, err := s.uc.Access.Check(c.Request().Context(), raw)
	if err != nil {
		return cl, errBearerInvalid(c)
	}
	if !bindingHolds(c.Request(), cl.JKT) {
		return token.AccessClaims{}, errBindingBroken(c)
	}
	return cl, nil
}

func (s *Sessions) setCookie(c echo.Context, token string) {
	c.SetCookie(&http.Cookie{
		Name: SessionCookie, Value: token, Path: "/", MaxAge: int(s.absolute / time.Second),
		HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode,
	})
}

func (s *Sessions) clearCookie(c echo.Context) {
	c.SetCookie(&http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
}

func noStore(c echo.Context) {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

func (s *Sessions) start(c echo.Context) error {
	caller, err := s.loginService(c)
	if err != nil {
		return err
	}
	var req startRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if errs := req.check(); len(errs) > 0 {
		return badBody(errs...)
	}
	// A DPoP proof (validated by DPoPResource) binds the session's refresh
	// family and access tokens to the login service's key (RFC 9449 §5).
	out, err := s.uc.Start.Handle(c.Request().Context(), commands.StartSession{ClientID: caller.ClientID, Subject: req.Subject, AMR: req.AMR, ACR: req.ACR,
		JKT: proofJKT(c.Request())}, RequestMetadata(c))
	if err != nil {
		return err
	}
	s.setCookie(c, out.SessionToken)
	noStore(c)
	return c.JSON(http.StatusCreated, StartSessionResponse{
		SessionToken: out.SessionToken, SessionID: out.SessionID, AccessToken: out.AccessToken,
		RefreshToken: out.RefreshToken, TokenType: tokenType(out.JKT), ExpiresIn: out.ExpiresIn,
	})
}

type elevateRequest struct {
	ACR string   `json:"acr"`
	AMR []string `json:"amr"`
}

// ElevateResponse is the body of POST /v1/sessions/:id/elevate.
type ElevateResponse struct {
	SessionID    string `json:"session_id"`
	SessionToken string `json:"session_token"`
	ACR          string `json:"acr"`
}

func (s *Sessions) elevate(c echo.Context) error {
	caller, err := s.loginService(c)
	if err != nil {
		return err
	}
	var req elevateRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.ACR == "" || len(req.ACR) > 255 || len(req.AMR) > 16 {
		return badBody(FieldError{Field: "acr", Detail: "acr is required (1-255 characters); amr holds at most 16 methods"})
	}
	out, err := s.uc.Elevate.Handle(c.Request().Context(), commands.ElevateSession{SessionID: c.Param("id"), ClientID: caller.ClientID, ACR: req.ACR, AMR: req.AMR}, RequestMetadata(c))
	if err != nil {
		return err
	}
	s.setCookie(c, out.SessionToken)
	noStore(c)
	return c.JSON(http.StatusOK, ElevateResponse{SessionID: out.SessionID, SessionToken: out.SessionToken, ACR: out.ACR})
}

// sessionCaller is whoever a request speaks for: the session cookie's
// subject, or a user access token's sub. Cookie callers of unsafe methods
// must also pass the Origin check. A bearer token must be a user access
// token, one minted from a session and so carrying its sid: an M2M token
// names a client, never a user, so it is refused whatever its sub (RFC 9068
// §5), and session subjects never lie in the client-id namespace
// (session.ErrReservedSubject).
type sessionCaller struct {
	subject   string
	sessionID string // the cookie's session, or the token's sid
	cookie    bool
}

func (s *Sessions) caller(c echo.Context) (sessionCaller, error) {
	if c.Request().Header.Get(echo.HeaderAuthorization) != "" {
		cl, err := s.bearer(c)
		if err != nil {
			return sessionCaller{}, err
		}
		if cl.SessionID == "" {
			return sessionCaller{}, errUserTokenRequired(c)
		}
		return sessionCaller{subject: cl.Subject, sessionID: cl.SessionID}, nil
	}
	ck, err := c.Cookie(SessionCookie)
	if err != nil || ck.Value == "" {
		return sessionCaller{}, NewProblem(http.StatusUnauthorized, "unauthenticated", "Unauthorized", "a session cookie or a bearer token is required")
	}
	rec, err := s.uc.Resolve.Resolve(c.Request().Context(), ck.Value)
	if err != nil {
		return sessionCaller{}, sessionAuthError(err)
	}
	return sessionCaller{subject: rec.Subject, sessionID: rec.ID, cookie: true}, nil
}

// sessionAuthError turns a failed cookie into 401, keeping 503 when the
// store is down: a dead Redis must never read as "logged out".
func sessionAuthError(err error) error {
	if errors.Is(err, session.ErrNotFound) || errors.Is(err, session.ErrExpired) || errors.Is(err, session.ErrEnded) {
		return NewProblem(http.StatusUnauthorized, "session-invalid", "Unauthorized", "the session is unknown, expired or ended")
	}
	return err
}

// checkOrigin is the CSRF defence of cookie-authenticated unsafe requests:
// the browser-set Origin must be one of the configured origins. A missing
// Origin is refused (fail closed).
func (s *Sessions) checkOrigin(c echo.Context) error {
	o := c.Request().Header.Get("Origin")
	if o == "" || !slices.Contains(s.origins, o) {
		return NewProblem(http.StatusForbidden, "origin-not-allowed", "Forbidden", "the request's Origin is not allowed to use the session cookie")
	}
	return nil
}

// SessionView is one entry of GET /v1/sessions.
type SessionView struct {
	ID        string    `json:"id"`
	ClientID  string    `json:"client_id"`
	ACR       string    `json:"acr,omitempty"`
	AMR       []string  `json:"amr,omitempty"`
	AuthTime  time.Time `json:"auth_time"`
	CreatedAt time.Time `json:"created_at"`
	LastSeen  time.Time `json:"last_seen"`
	Current   bool      `json:"current"`
}

func (s *Sessions) list(c echo.Context) error {
	who, err := s.caller(c)
	if err != nil {
		return err
	}
	recs, err := s.uc.List.List(c.Request().Context(), who.subject)
	if err != nil {
		return err
	}
	out := make([]SessionView, 0, len(recs))
	for _, r := range recs {
		out = append(out, SessionView{ID: r.ID, ClientID: r.ClientID, ACR: r.ACR, AMR: r.AMR, AuthTime: r.AuthTime,
			CreatedAt: r.CreatedAt, LastSeen: r.LastSeen, Current: r.ID == who.sessionID})
	}
	noStore(c)
	return c.JSON(http.StatusOK, map[string]any{"sessions": out})
}

func (s *Sessions) end(c echo.Context) error {
	if c.Request().Header.Get(echo.HeaderAuthorization) == "" {
		if err := s.checkOrigin(c); err != nil {
			return err
		}
	}
	who, err := s.caller(c)
	if err != nil {
		return err
	}
	id := c.Param("id")
	if err := s.uc.End.Handle(c.Request().Context(), commands.EndSession{SessionID: id, Subject: who.subject}, RequestMetadata(c)); err != nil {
		return err
	}
	if who.cookie && who.sessionID == id {
		s.clearCookie(c)
	}
	return c.NoContent(http.StatusNoContent)
}

// SessionTokenResponse is the body of POST /v1/session/token.
type SessionTokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

func (s *Sessions) token(c echo.Context) error {
	if err := s.checkOrigin(c); err != nil {
		return err
	}
	ck, err := c.Cookie(SessionCookie)
	if err != nil || ck.Value == "" {
		return NewProblem(http.StatusUnauthorized, "unauthenticated", "Unauthorized", "the session cookie is required")
	}
	pair, err := s.uc.AccessToken.Handle(c.Request().Context(), ck.Value, RequestMetadata(c))
	if err != nil {
		return sessionAuthError(err)
	}
	noStore(c)
	return c.JSON(http.StatusOK, SessionTokenResponse{AccessToken: pair.AccessToken, TokenType: "Bearer", ExpiresIn: pair.ExpiresIn})
}
