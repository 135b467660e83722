package e2e

import (
	"testing"

	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// bin is the authledger binary built once for every test in the package.
var bin string

func TestMain(m *testing.M) { e2eharness.Main(m, &bin) }
