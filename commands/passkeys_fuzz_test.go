package commands_test

import (
	"strings"
	"testing"

	"github.com/authledger/authledger/commands"
)

// FuzzSplitEnrolmentCode: an enrolment link's code comes from a URL; the
// parser accepts only "<uuid>.<43 base64url chars>" and round-trips it.
func FuzzSplitEnrolmentCode(f *testing.F) {
	f.Add("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b." + strings.Repeat("A", 43))
	f.Add("x.y")
	f.Add("")
	f.Fuzz(func(t *testing.T, code string) {
		id, secret, ok := commands.SplitEnrolmentCode(code)
		if !ok {
			return
		}
		if (commands.EnrolmentLink{ID: id, Secret: secret}).Code() != code || len(secret) != 43 || strings.Contains(id, ".") {
			t.Fatalf("%q parsed as %q %q", code, id, secret)
		}
	})
}
