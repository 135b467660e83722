// Package chaos holds fault scenarios against the real authledger binary:
// each test starts its own server (and its own PostgreSQL or Redis when it
// needs to stop or freeze one), breaks something, and prints requests
// acknowledged, lost (must be 0), errors by code and the recovery time.
package chaos

import (
	"fmt"
	"os"
	"testing"

	e2eharness "authledger/tests/e2e/harness"
)

// bin is the authledger binary built once for every scenario.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "authledger-chaos-")
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
