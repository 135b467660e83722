package e2e

import (
	"fmt"
	"os"
	"testing"

	e2eharness "authledger/tests/e2e/harness"
)

// bin is the authledger binary built once for every test in the package.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "authledger-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin, err = e2eharness.Build(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
