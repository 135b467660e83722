package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/authledger/authledger/api"
	cmds "github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/internal/compose"
	"github.com/authledger/authledger/login"
	"github.com/authledger/authledger/readmodels/passkeys"
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
	switch strings.TrimSpace(c.Login) {
	case "":
		return nil
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

// buildLogin adds the passkey module when AUTHLEDGER_LOGIN=passkeys. It is
// a client of the token use cases (tok), acting as cmds.LoginClientID.
func buildLogin(in *infraParts, tok compose.Tokens, rules cmds.TokenRules, limiter api.RateLimiter, sessionLifetime time.Duration) (contributions, error) {
	lc := in.cfg.LoginConfig
	if strings.TrimSpace(lc.Login) == "" {
		return contributions{}, nil
	}
	rp, err := lc.relyingParty(in.cfg.Issuer)
	if err != nil {
		return contributions{}, err
	}
	// The credentials read model, for operators and dashboards; sign-in
	// and the account page decide on the ledger stream.
	if err := in.runner.Register(passkeys.Credentials{}); err != nil {
		return contributions{}, fmt.Errorf("login: %w", err)
	}
	store, now := in.store, rules.Now
	pk := cmds.NewPasskeyCommands(store, tok.StartSession, tok.Elevate, now)
	p, err := login.New(login.Config{
		RP: rp, Issuer: in.cfg.Issuer, StepUpMaxAge: lc.StepUpMaxAge, SessionLifetime: sessionLifetime,
		Register: pk.Register, SignIn: pk.SignIn, Failures: pk.Failures, Manage: pk.Manage,
		Links: pk.Links, Sessions: tok.Resolver, End: tok.EndSession, SessionList: tok.Sessions,
		Limits: limiter, Challenges: login.NewChallenges(now), Log: in.log, Now: now,
	})
	if err != nil {
		return contributions{}, err
	}
	in.log.Info("passkey sign-in on", "rp_id", rp.ID, "origins", rp.Origins)
	return contributions{routes: []api.Routes{p}}, nil
}
