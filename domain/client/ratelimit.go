package client

import "errors"

// ErrInvalidRateLimit: a registered request rate outside the bounds below.
var ErrInvalidRateLimit = errors.New("client: invalid rate limit")

// Bounds of a registered rate limit: generous enough for a resource
// server that introspects every request it serves, small enough that a
// typo cannot mean "unlimited".
const (
	MaxRatePerSecond = 1_000_000
	MaxRateBurst     = 10_000_000
)

// RateLimit is a client's own request budget, recorded in its
// registration: requests per second and burst, whole numbers so the
// ledger holds no floats. It replaces the service-wide per-client
// defaults for this client at every endpoint class.
type RateLimit struct {
	PerSecond int `json:"per_second"`
	Burst     int `json:"burst"`
}

// Validate checks the bounds.
func (r RateLimit) Validate() error {
	if r.PerSecond < 1 || r.PerSecond > MaxRatePerSecond || r.Burst < 1 || r.Burst > MaxRateBurst {
		return ErrInvalidRateLimit
	}
	return nil
}
