package ops

import (
	"os/exec"
	"testing"

	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// bin is the authledger binary built once for every test in the package.
var bin string

func TestMain(m *testing.M) { e2eharness.Main(m, &bin) }

// promtool finds promtool; a missing one fails (make test installs it
// through scripts/tools.sh), it never skips.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (run ./scripts/tools.sh, which installs Debian's prometheus package): %v", err)
	}
	return p
}
