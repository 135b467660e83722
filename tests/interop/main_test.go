// Package interop runs clients not written here against the real binary:
// openid-client (npm) drives the DPoP flows (docs/dpop.md).
package interop

import (
	"testing"

	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

var bin string

func TestMain(m *testing.M) { e2eharness.Main(m, &bin) }
