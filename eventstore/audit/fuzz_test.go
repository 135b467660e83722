package audit_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/authledger/authledger/eventstore/audit"
)

// FuzzVerifyExport feeds arbitrary bytes to the export decoder and verifier:
// it must never panic, must only ever report an *audit.Error, and must judge
// an export the same after it is decoded and written out again.
func FuzzVerifyExport(f *testing.F) {
	lines := exportOf(f, sealed(f, 3))
	f.Add(join(lines))
	f.Add(join(lines[:1]))
	f.Add(append(append([]byte(nil), lines[1]...), lines[0]...))
	f.Add(bytes.Replace(join(lines), []byte(`"n":1`), []byte(`"n":2`), 1))
	f.Add([]byte(`{"position":1}` + "\n"))
	f.Add([]byte("\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		head, err := audit.VerifyExport(bytes.NewReader(data), audit.Options{})
		var ae *audit.Error
		if err != nil && !errors.As(err, &ae) {
			t.Fatalf("error is not an *audit.Error: %v", err)
		}

		// Round trip whatever decodes: the re-written export must get the
		// same verdict, or export and decode disagree about the format.
		d := audit.NewDecoder(bytes.NewReader(data))
		var again []byte
		for {
			r, derr := d.Next()
			if derr == io.EOF {
				break
			}
			if derr != nil {
				return
			}
			line, lerr := audit.AppendLine(nil, r)
			if lerr != nil {
				t.Fatalf("a decoded record does not export: %v", lerr)
			}
			again = append(again, line...)
		}
		head2, err2 := audit.VerifyExport(bytes.NewReader(again), audit.Options{})
		if (err == nil) != (err2 == nil) || head != head2 {
			t.Fatalf("verdict changed after a round trip: %v/%+v then %v/%+v", err, head, err2, head2)
		}
		if err != nil && err.Error() != err2.Error() {
			t.Fatalf("verdict changed after a round trip: %v then %v", err, err2)
		}
	})
}
