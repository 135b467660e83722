package api

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/authledger/authledger/domain/oauth"
)

// ClientAddress finds a request's source address: the key of the failure
// budgets (DESIGN.md §5) and what the logs show. It fails only when it
// cannot tell (ErrMalformedForwardedFor); the server then refuses the
// request rather than guess.
type ClientAddress func(req *http.Request) (string, error)

// ErrMalformedForwardedFor is a trusted proxy's X-Forwarded-For that is not
// a list of IP addresses. Echo's ExtractIPFromXFFHeader falls back to the
// peer there, which is the proxy: its callers' failures would then spend
// the proxy's own budget and lock out every client behind it.
var ErrMalformedForwardedFor = errors.New("api: malformed X-Forwarded-For from a trusted proxy")

// PeerAddress is the peer's address; forwarded headers are never believed,
// or a client could pick its own rate-limit bucket.
func PeerAddress(req *http.Request) (string, error) { return peer(req), nil }

func peer(req *http.Request) string {
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		return req.RemoteAddr
	}
	return host
}

// ForwardedFor believes X-Forwarded-For from the proxies in trusted only.
// It walks from the peer leftwards through the header (all X-Forwarded-For
// lines, comma-joined, RFC 7239 §5.2's order): the first hop outside
// trusted is the caller. A peer outside trusted is the caller itself, and
// its header is ignored. Each entry must be a bare IP address (IPv6 may be
// bracketed); an entry that is not, once only trusted hops lie after it,
// is ErrMalformedForwardedFor. When every hop is trusted the left-most one
// is the caller.
func ForwardedFor(trusted []netip.Prefix) ClientAddress {
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return func(req *http.Request) (string, error) {
		direct := peer(req)
		pa, err := netip.ParseAddr(direct)
		if err != nil || !isTrusted(pa.Unmap().WithZone("")) {
			return direct, nil
		}
		lines := req.Header.Values(echo.HeaderXForwardedFor)
		if len(lines) == 0 {
			return direct, nil
		}
		hops := strings.Split(strings.Join(lines, ","), ",")
		caller := pa.Unmap().WithZone("")
		for i := len(hops) - 1; i >= 0; i-- {
			h := strings.TrimSpace(hops[i])
			if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
				h = h[1 : len(h)-1]
			}
			a, err := netip.ParseAddr(h)
			if err != nil || a.Zone() != "" {
				return "", ErrMalformedForwardedFor
			}
			caller = a.Unmap()
			if !isTrusted(caller) {
				return caller.String(), nil
			}
		}
		return caller.String(), nil
	}
}

// clientAddressKey holds the address the check below found.
const clientAddressKey = "authledger.client_address"

// checkClientAddress refuses a request whose source address cannot be told
// (400: invalid_request on /oauth2/*, problem+json elsewhere), before any
// route or budget sees it, and keeps the address it found for
// sourceAddress.
func checkClientAddress(find ClientAddress) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			addr, err := find(c.Request())
			if err != nil {
				const hint = "X-Forwarded-For from a trusted proxy must be a list of IP addresses"
				if isOAuthPath(c.Request().URL.Path) {
					return oauth.ErrInvalidRequest.WithHint(hint)
				}
				return NewProblem(http.StatusBadRequest, "malformed-forwarded-for", "Bad Request", hint)
			}
			c.Set(clientAddressKey, addr)
			return next(c)
		}
	}
}

// sourceAddress is the caller's address as checkClientAddress found it
// (api.Config.ClientAddress, AUTHLEDGER_TRUSTED_PROXIES), or the peer
// address outside a server built by New.
func sourceAddress(c echo.Context) string {
	if a, ok := c.Get(clientAddressKey).(string); ok {
		return a
	}
	return peer(c.Request())
}
