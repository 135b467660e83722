package main

import (
	"net/netip"
	"strings"

	"github.com/authledger/authledger/api"
)

// clientAddress is how the server finds a caller's address for rate limits.
// Without trusted proxies it is the peer address: believing
// X-Forwarded-For from anyone would let a client pick its own budget. With
// them, the right-most X-Forwarded-For entry not inside a trusted range,
// and only when the peer itself is trusted (api.ForwardedFor); only the
// configured ranges count, never loopback or private ranges by default. A
// trusted proxy's X-Forwarded-For that cannot be read is refused (400),
// never charged to the proxy.
func clientAddress(trusted []string) api.ClientAddress {
	if len(trusted) == 0 {
		return api.PeerAddress
	}
	var ranges []netip.Prefix
	for _, p := range trusted {
		if n, err := netip.ParsePrefix(strings.TrimSpace(p)); err == nil { // Validate refused the rest
			ranges = append(ranges, n.Masked())
		}
	}
	return api.ForwardedFor(ranges)
}
