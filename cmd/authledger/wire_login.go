package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/authledger/authledger/api"
	cmds "github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/internal/compose"
	"github.com/authledger/authledger/login"
	"github.com/authledger/authledger/readmodels/passkeys"
	"github.com/authledger/authledger/replayguard"
)

// LoginConfig turns on authledger's own sign-in module (docs/login.md).
type LoginConfig struct {
	// Login is "" (off) or "passkeys": GET /login, the passkey ceremonies
	// under /login/passkey/…, and enrolment links.
	Login string `env:"LOGIN"`
	// LoginRPID overrides the WebAuthn relying-party id, which is the
	// issuer's host by default (an IP address is refused: browsers do).
	LoginRPID string `env:"LOGIN_RP_ID"`
	// LoginOrigins override the allowed page origins (the issuer's origin
	// by default); each must lie within the RP id.
	LoginOrigins []string `env:"LOGIN_ORIGINS" envSeparator:","`
	// LoginUpstreams is a JSON file listing the upstream OpenID providers
	// (docs/login.md, "Adding an upstream provider"): their ID tokens are
	// exchanged at /oauth2/token (RFC 8693) by the clients each lists,
	// and, with AUTHLEDGER_LOGIN=passkeys, sign people in at
	// /login/oidc/<name>.
	LoginUpstreams string `env:"LOGIN_UPSTREAMS"`
	// StepUpMaxAge is how recent a user-verified authentication must be
	// for a sensitive operation (RFC 9470 max_age).
	StepUpMaxAge time.Duration `env:"STEPUP_MAX_AGE" envDefault:"5m"`
}

// relyingParty is the login module's RP, or an error naming the variable
// to set.
func (c LoginConfig) relyingParty(issuer string) (login.RelyingParty, error) {
	return login.RelyingPartyFor(issuer, c.LoginRPID, c.LoginOrigins)
}

func (c LoginConfig) validate(issuer string) []error {
	var errs []error
	if _, err := c.upstreams(); err != nil {
		errs = append(errs, err)
	}
	switch strings.TrimSpace(c.Login) {
	case "":
		return errs
	case "passkeys":
	default:
		errs = append(errs, fmt.Errorf("%sLOGIN: must be empty or \"passkeys\", got %q", envPrefix, c.Login))
	}
	if c.StepUpMaxAge <= 0 || c.StepUpMaxAge > time.Hour {
		errs = append(errs, fmt.Errorf("%sSTEPUP_MAX_AGE: must be between 1s and 1h", envPrefix))
	}
	if _, err := c.relyingParty(issuer); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// metadata adds the RFC 8693 grant to the RFC 8414 document when
// upstream providers are configured.
func (c LoginConfig) metadata(doc api.AuthServerMetadata) api.AuthServerMetadata {
	if c.LoginUpstreams != "" {
		doc.GrantTypesSupported = append(doc.GrantTypesSupported, login.GrantTokenExchange)
	}
	return doc
}

// upstreams reads and checks the providers file ("" is none).
func (c LoginConfig) upstreams() ([]login.Provider, error) {
	if c.LoginUpstreams == "" {
		return nil, nil
	}
	b, err := os.ReadFile(c.LoginUpstreams)
	if err != nil {
		return nil, fmt.Errorf("%sLOGIN_UPSTREAMS: %w", envPrefix, err)
	}
	var ps []login.Provider
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&ps); err != nil {
		return nil, fmt.Errorf("%sLOGIN_UPSTREAMS: %s: %w", envPrefix, c.LoginUpstreams, err)
	}
	var errs []error
	for i := range ps {
		if err := ps[i].Check(os.LookupEnv); err != nil {
			errs = append(errs, fmt.Errorf("%sLOGIN_UPSTREAMS: %w", envPrefix, err))
		}
	}
	return ps, errors.Join(errs...)
}

// buildLogin adds the passkey module when AUTHLEDGER_LOGIN=passkeys. It is
// a client of the token use cases (tok), acting as cmds.LoginClientID.
// The account page's activity feed is returned (nil with the module off)
// for buildAudit, which runs later, to hand it the audit read model.
func buildLogin(in *infraParts, tok compose.Tokens, rules cmds.TokenRules, clients clientParts, sessionLifetime time.Duration) (contributions, *login.AuditActivity, error) {
	lc := in.cfg.LoginConfig
	providers, err := lc.upstreams()
	if err != nil {
		return contributions{}, nil, err
	}
	var ups *login.Upstreams
	if len(providers) > 0 {
		var guard login.ReplayGuard = replayguard.NewMemory(nil)
		if in.redis != nil {
			guard = replayguard.NewRedis(in.redis, "authledger:idt:", nil)
		}
		if ups, err = login.NewUpstreams(providers, cmds.NewUpstreamSignInHandler(in.store, tok.StartSession, rules.Now), guard, nil, rules.Now); err != nil {
			return contributions{}, nil, err
		}
		if err := clients.tokenEndpoint.AddGrant(ups.Grant()); err != nil {
			return contributions{}, nil, err
		}
	}
	if strings.TrimSpace(lc.Login) == "" {
		return contributions{}, nil, nil
	}
	rp, err := lc.relyingParty(in.cfg.Issuer)
	if err != nil {
		return contributions{}, nil, err
	}
	// The credentials read model, for operators and dashboards; sign-in
	// and the account page decide on the ledger stream.
	if err := in.runner.Register(passkeys.Credentials{}); err != nil {
		return contributions{}, nil, fmt.Errorf("login: %w", err)
	}
	store, now := in.store, rules.Now
	challenges := login.NewChallenges(now)
	if in.redis != nil {
		// Shared, so a ceremony begun on one instance finishes on any.
		challenges = login.NewRedisChallenges(in.redis, "authledger:ceremony:", now)
	}
	pk := cmds.NewPasskeyCommands(store, tok.StartSession, tok.Elevate, now)
	activity := &login.AuditActivity{Passkeys: login.LedgerActivity{Manage: pk.Manage}, Log: in.log}
	p, err := login.New(login.Config{
		RP: rp, Issuer: in.cfg.Issuer, StepUpMaxAge: lc.StepUpMaxAge, SessionLifetime: sessionLifetime,
		Register: pk.Register, SignIn: pk.SignIn, Failures: pk.Failures, Manage: pk.Manage,
		Links: pk.Links, Sessions: tok.Resolver, End: tok.EndSession, SessionList: tok.Sessions,
		Activity: activity, Limits: clients.limiter, Challenges: challenges, Upstreams: ups, Log: in.log, Now: now,
	})
	if err != nil {
		return contributions{}, nil, err
	}
	in.log.Info("passkey sign-in on", "rp_id", rp.ID, "origins", rp.Origins)
	return contributions{routes: []api.Routes{p}}, activity, nil
}
