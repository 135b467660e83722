package main

import (
	"net"
	"strings"

	"github.com/labstack/echo/v4"
)

// ipExtractor is how the server finds a caller's address for rate limits.
// Without trusted proxies it is the peer address: believing
// X-Forwarded-For from anyone would let a client pick its own budget. With
// them, the right-most X-Forwarded-For entry not inside a trusted range,
// and only when the peer itself is trusted. Echo trusts loopback, link-local
// and private ranges by default; that is switched off so only the
// configured ranges count.
func ipExtractor(trusted []string) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		if _, n, err := net.ParseCIDR(strings.TrimSpace(p)); err == nil { // Validate refused the rest
			opts = append(opts, echo.TrustIPRange(n))
		}
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}
