package browser

import (
	"testing"

	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

var bin string

func TestMain(m *testing.M) { e2eharness.Main(m, &bin) }
