package login

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// ErrIPRelyingParty: the issuer's host is an IP address, which browsers
// refuse as a WebAuthn relying-party id, and no RP id was configured.
var ErrIPRelyingParty = errors.New("login: the issuer's host is an IP address, which browsers refuse as a WebAuthn RP id: set AUTHLEDGER_LOGIN_RP_ID (and serve the pages on that host, e.g. http://localhost:<port>)")

// RelyingParty is what a passkey is bound to: the RP id (a registrable
// domain, never an IP address) and the exact origins the pages are served
// from.
type RelyingParty struct {
	ID      string
	Origins []string
}

// RelyingPartyFor derives the relying party from the issuer URL: its host
// is the RP id and its origin the one allowed origin. rpID and origins,
// when set (AUTHLEDGER_LOGIN_RP_ID, AUTHLEDGER_LOGIN_ORIGINS), override
// them.
func RelyingPartyFor(issuer, rpID string, origins []string) (RelyingParty, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" {
		return RelyingParty{}, fmt.Errorf("login: issuer %q is not a URL", issuer)
	}
	rp := RelyingParty{ID: strings.ToLower(strings.TrimSpace(rpID))}
	if rp.ID == "" {
		rp.ID = strings.ToLower(u.Hostname())
		if net.ParseIP(rp.ID) != nil {
			return RelyingParty{}, ErrIPRelyingParty
		}
	}
	if net.ParseIP(strings.Trim(rp.ID, "[]")) != nil {
		return RelyingParty{}, fmt.Errorf("login: AUTHLEDGER_LOGIN_RP_ID %q is an IP address; browsers refuse it", rpID)
	}
	for _, o := range origins {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		ou, err := url.Parse(o)
		if err != nil || (ou.Scheme != "https" && ou.Scheme != "http") || ou.Host == "" || (ou.Path != "" && ou.Path != "/") {
			return RelyingParty{}, fmt.Errorf("login: AUTHLEDGER_LOGIN_ORIGINS: %q is not an origin (scheme://host[:port])", o)
		}
		if h := strings.ToLower(ou.Hostname()); h != rp.ID && !strings.HasSuffix(h, "."+rp.ID) {
			return RelyingParty{}, fmt.Errorf("login: AUTHLEDGER_LOGIN_ORIGINS: %q is not within the RP id %q", o, rp.ID)
		}
		rp.Origins = append(rp.Origins, ou.Scheme+"://"+strings.ToLower(ou.Host))
	}
	if len(rp.Origins) == 0 {
		rp.Origins = []string{u.Scheme + "://" + strings.ToLower(u.Host)}
	}
	return rp, nil
}
