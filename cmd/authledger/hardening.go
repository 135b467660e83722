package main

import (
	"fmt"
	"strings"

	"github.com/authledger/authledger/api"
)

// HardeningConfig is the HTTP hardening part of the configuration
// (AUTHLEDGER_ prefix, same YAML file).
type HardeningConfig struct {
	// MaxInFlight caps the requests one instance serves at once; past it
	// requests answer 503 with Retry-After (default api.DefaultMaxInFlight).
	MaxInFlight int `env:"MAX_IN_FLIGHT"`
}

func (c HardeningConfig) validate() []error {
	var errs []error
	if c.MaxInFlight < 0 {
		errs = append(errs, fmt.Errorf("%sMAX_IN_FLIGHT: must not be negative", envPrefix))
	}
	return errs
}

// hardening is what api.New applies to every answer; HSTS follows the
// issuer's scheme (a browser reaching an https issuer must never be
// downgraded).
func (c Config) hardening() api.Hardening {
	return api.Hardening{HSTS: strings.HasPrefix(c.Issuer, "https://"), MaxInFlight: c.MaxInFlight}
}
