package secrets

import "errors"

// ErrDenied: the provider refuses this request for good (no privilege on
// that path, credentials it does not accept, a request it will not take).
// Unlike ErrUnavailable, retrying does not help: fail closed.
var ErrDenied = errors.New("secrets: the provider refused the request")
