package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/client"
	"github.com/authledger/authledger/internal/strictjson"
)

// Principal is the caller of an admin endpoint, from its bearer token.
type Principal struct {
	Subject  string
	ClientID string
	Scopes   []string
	// JKT is the token's cnf.jkt (DPoP-bound), "" for a bearer token.
	JKT string
	// SessionID, ACR and AuthTime are set for a user access token (one
	// minted from a session): StepUpForUserTokens reads them.
	SessionID string
	ACR       string
	AuthTime  time.Time
}

// BearerVerifier checks a bearer token presented to authledger's own APIs:
// signature against the active keys, typ, iss, exp/nbf, and aud containing
// the issuer URL (DESIGN.md §5). cmd/authledger adapts client/verifier.
type BearerVerifier interface {
	VerifyBearer(ctx context.Context, raw string) (Principal, error)
}

// BearerVerifierFunc adapts a function.
type BearerVerifierFunc func(ctx context.Context, raw string) (Principal, error)

// VerifyBearer implements BearerVerifier.
func (f BearerVerifierFunc) VerifyBearer(ctx context.Context, raw string) (Principal, error) {
	return f(ctx, raw)
}

const principalKey = "authledger.principal"

// PrincipalFrom returns the request's verified bearer principal: the caller
// RequireScope admitted, or on other /v1 routes the one the per-client
// request limit verified.
func PrincipalFrom(c echo.Context) (Principal, bool) {
	p, ok := c.Get(principalKey).(Principal)
	return p, ok
}

// RequireScope admits requests with a valid bearer token holding scope
// (RFC 6750): 401 with WWW-Authenticate on a missing or bad token, 403
// insufficient_scope otherwise. Admin groups use it with their own scope,
// e.g. RequireScope(v, "services:admin").
func RequireScope(v BearerVerifier, scope string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			// The per-client request limit (BearerRequestLimit) runs first
			// with the same verifier and keeps the principal it verified:
			// verifying again would only double the signature and
			// revocation checks of every admin call.
			p, ok := PrincipalFrom(c)
			if !ok {
				raw := bearerToken(c.Request())
				if raw == "" {
					return errBearerMissing(c)
				}
				var err error
				if p, err = v.VerifyBearer(c.Request().Context(), raw); err != nil {
					return errBearerInvalid(c)
				}
				if !bindingHolds(c.Request(), p.JKT) {
					return errBindingBroken(c)
				}
			}
			if !slices.Contains(p.Scopes, scope) {
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="authledger", error="insufficient_scope", scope="`+scope+`"`)
				return NewProblem(http.StatusForbidden, "insufficient-scope", "Forbidden", "scope "+scope+" is required")
			}
			c.Set(principalKey, p)
			return next(c)
		}
	}
}

// ServicesAdminScope guards the service-registry admin API.
const ServicesAdminScope = "services:admin"

// ServiceDirectory is the read side the admin API shows.
type ServiceDirectory interface {
	Client(ctx context.Context, id client.ID) (client.View, bool, error)
	List(ctx context.Context) ([]client.View, error)
	// WaitFor blocks until the directory reflects ledger position pos.
	WaitFor(ctx context.Context, pos uint64) error
}

// AdminServices is the service-registry admin API under /v1/admin/services.
type AdminServices struct {
	cmds  ServiceCommands
	dir   ServiceDirectory
	guard echo.MiddlewareFunc
}

// NewAdminServices builds the group; guard is RequireScope(v, ServicesAdminScope).
func NewAdminServices(cmds ServiceCommands, dir ServiceDirectory, guard echo.MiddlewareFunc) *AdminServices {
	return &AdminServices{cmds: cmds, dir: dir, guard: guard}
}

// Register implements Routes.
func (a *AdminServices) Register(e *echo.Echo) {
	g := e.Group("/v1/admin/services", a.guard, a.callerActive)
	g.POST("", a.register)
	g.GET("", a.list)
	g.GET("/:id", a.show)
	g.POST("/:id/rotate-secret", a.rotate)
	g.POST("/:id/keys", a.addKeys)
	g.DELETE("/:id/keys/:kid", a.removeKey)
	g.POST("/:id/disable", a.disable)
}

// callerActive refuses an admin whose client has been disabled since its
// token was minted: M2M tokens are stateless for 30 minutes, but the power
// to register and disable services should end with the client.
func (a *AdminServices) callerActive(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, ok := PrincipalFrom(c)
		if !ok {
			return next(c) // a guard that sets no principal decides alone
		}
		if err := requireActiveClient(c, a.dir, p.ClientID); err != nil {
			return err
		}
		return next(c)
	}
}

// ClientLookup finds a registered client; ServiceDirectory is one.
type ClientLookup interface {
	Client(ctx context.Context, id client.ID) (client.View, bool, error)
}

// requireActiveClient answers 401 invalid_token when the client a bearer
// token was minted for is unknown or disabled now. Every API that gives a
// client's token powers beyond reading (admin, starting sessions) uses it.
func requireActiveClient(c echo.Context, dir ClientLookup, clientID string) error {
	v, found, err := dir.Client(c.Request().Context(), client.ID(clientID))
	if err != nil {
		return err
	}
	if !found || v.Disabled {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="authledger", error="invalid_token"`)
		return NewProblem(http.StatusUnauthorized, "invalid-token", "Unauthorized", "the calling client is not active")
	}
	return nil
}

// ServiceResponse is a client as the admin API shows it: no secret hash.
type ServiceResponse struct {
	ClientID     string             `json:"client_id"`
	ClientSecret string             `json:"client_secret,omitempty"`
	Name         string             `json:"name"`
	Scopes       []string           `json:"scopes"`
	Audiences    []string           `json:"audiences"`
	Privileged   PrivilegedGrants   `json:"privileged"`
	Secrets      []client.Secret    `json:"secrets"`
	Keys         []client.PublicKey `json:"keys"`
	Disabled     bool               `json:"disabled"`
	DPoPBound    bool               `json:"dpop_bound_access_tokens"`
	DPoPNonce    bool               `json:"dpop_nonce_required"`
	RegisteredAt time.Time          `json:"registered_at"`
	Version      uint64             `json:"version"`
	RateLimit    *client.RateLimit  `json:"rate_limit,omitempty"`
}

// PrivilegedGrants names which granted scopes and audiences are
// authledger's own powers (client.PrivilegedScopes, PrivilegedAudiences;
// docs/services.md says what each allows). They are legitimate grants,
// shown so that none is handed out unnoticed.
type PrivilegedGrants struct {
	Scopes    []string `json:"scopes"`
	Audiences []string `json:"audiences"`
}

// ToServiceResponse renders a view; the CLI prints the same shape.
func ToServiceResponse(v client.View) ServiceResponse {
	p := v.Privileged()
	return ServiceResponse{ClientID: string(v.ID), Name: v.Name, Scopes: nonNil(v.Scopes), Audiences: nonNil(v.Audiences),
		Privileged: PrivilegedGrants{Scopes: nonNil(p.Scopes), Audiences: nonNil(p.Audiences)},
		Secrets:    nonNil(v.Secrets), Keys: nonNil(v.Keys), Disabled: v.Disabled, RegisteredAt: v.RegisteredAt, Version: v.Version, RateLimit: v.RateLimit, DPoPBound: v.DPoPBound, DPoPNonce: v.DPoPNonce}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (a *AdminServices) meta(c echo.Context) commands.Metadata {
	m := RequestMetadata(c)
	if p, ok := PrincipalFrom(c); ok {
		m.Actor = commands.ClientActor(p.ClientID)
	}
	return m
}

// settle waits (bounded) for the registry to show a change, so a register
// followed by a show or a token request from the same caller succeeds.
func (a *AdminServices) settle(c echo.Context, pos uint64) {
	if pos == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), time.Second)
	defer cancel()
	_ = a.dir.WaitFor(ctx, pos)
}

type registerServiceRequest struct {
	Name      string          `json:"name"`
	Scopes    []string        `json:"scopes"`
	Audiences []string        `json:"audiences"`
	JWKs      json.RawMessage `json:"jwks,omitempty"` // one public JWK or a JWK Set
	// RateLimit is the client's own request budget (docs/api.md "Rate limits").
	RateLimit *client.RateLimit `json:"rate_limit,omitempty"`
	DPoPBound bool              `json:"dpop_bound_access_tokens,omitempty"`
	DPoPNonce bool              `json:"dpop_nonce_required,omitempty"`
}

func bindJSON(c echo.Context, v any) error {
	b, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err // the body limit's 413 or a broken connection
	}
	if err := strictjson.Unmarshal(b, v); err != nil {
		fe := strictFieldError(err)
		p := NewProblem(http.StatusBadRequest, "invalid-body", "Invalid Request Body", "the body must be a JSON object with the documented fields: "+fe.Detail)
		p.Errors = []FieldError{fe}
		return p
	}
	return nil
}

func (a *AdminServices) register(c echo.Context) error {
	var req registerServiceRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	var keys []client.PublicKey
	if len(req.JWKs) > 0 {
		var err error
		if keys, err = client.ParseJWKs(req.JWKs); err != nil {
			return err
		}
	}
	res, err := a.cmds.Register(c.Request().Context(), commands.RegisterService{
		Name: req.Name, Scopes: req.Scopes, Audiences: req.Audiences, Keys: keys, NoSecret: len(keys) > 0, RateLimit: req.RateLimit,
		DPoPBound: req.DPoPBound, DPoPNonce: req.DPoPNonce,
	}, a.meta(c))
	if err != nil {
		return err
	}
	a.settle(c, res.Position)
	out := ToServiceResponse(res.Client)
	out.ClientSecret = res.ClientSecret
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusCreated, out)
}

func (a *AdminServices) list(c echo.Context) error {
	vs, err := a.dir.List(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]ServiceResponse, 0, len(vs))
	for _, v := range vs {
		out = append(out, ToServiceResponse(v))
	}
	return c.JSON(http.StatusOK, map[string]any{"services": out})
}

func (a *AdminServices) show(c echo.Context) error {
	v, ok, err := a.dir.Client(c.Request().Context(), client.ID(c.Param("id")))
	if err != nil {
		return err
	}
	if !ok {
		return client.ErrNotRegistered
	}
	return c.JSON(http.StatusOK, ToServiceResponse(v))
}

type rotateSecretRequest struct {
	WindowSeconds int64 `json:"window_seconds,omitempty"`
	Immediately   bool  `json:"immediately,omitempty"`
}

func (a *AdminServices) rotate(c echo.Context) error {
	var req rotateSecretRequest
	if c.Request().ContentLength != 0 {
		if err := bindJSON(c, &req); err != nil {
			return err
		}
	}
	if req.WindowSeconds < 0 || req.WindowSeconds > 30*24*3600 {
		return NewProblem(http.StatusBadRequest, "invalid-body", "Invalid Request Body", "window_seconds must be between 0 and 30 days")
	}
	res, err := a.cmds.RotateSecret(c.Request().Context(), commands.RotateSecret{
		ClientID: client.ID(c.Param("id")), Window: time.Duration(req.WindowSeconds) * time.Second, Immediately: req.Immediately,
	}, a.meta(c))
	if err != nil {
		return err
	}
	a.settle(c, res.Position)
	out := ToServiceResponse(res.Client)
	out.ClientSecret = res.ClientSecret
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, out)
}

func (a *AdminServices) addKeys(c echo.Context) error {
	var raw json.RawMessage
	if err := bindJSON(c, &raw); err != nil {
		return err
	}
	keys, err := client.ParseJWKs(raw)
	if err != nil {
		return err
	}
	res, err := a.cmds.AddKeys(c.Request().Context(), commands.AddServiceKeys{ClientID: client.ID(c.Param("id")), Keys: keys}, a.meta(c))
	if err != nil {
		return err
	}
	a.settle(c, res.Position)
	return c.JSON(http.StatusOK, ToServiceResponse(res.Client))
}

func (a *AdminServices) removeKey(c echo.Context) error {
	res, err := a.cmds.RemoveKey(c.Request().Context(), commands.RemoveServiceKey{ClientID: client.ID(c.Param("id")), KeyID: c.Param("kid")}, a.meta(c))
	if err != nil {
		return err
	}
	a.settle(c, res.Position)
	return c.JSON(http.StatusOK, ToServiceResponse(res.Client))
}

type disableRequest struct {
	Reason string `json:"reason,omitempty"`
}

func (a *AdminServices) disable(c echo.Context) error {
	var req disableRequest
	if c.Request().ContentLength != 0 {
		if err := bindJSON(c, &req); err != nil {
			return err
		}
	}
	res, err := a.cmds.Disable(c.Request().Context(), commands.DisableService{ClientID: client.ID(c.Param("id")), Reason: req.Reason}, a.meta(c))
	if err != nil {
		return err
	}
	a.settle(c, res.Position)
	return c.JSON(http.StatusOK, ToServiceResponse(res.Client))
}
