package main

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// A short run of each loop against the real binary: every operation of
// the mix succeeds at least once and none fails, and the server's CPU
// time is measured. Speed is not asserted.
func TestTheDriverRunsEveryOperationInBothLoops(t *testing.T) {
	bin := e2eharness.Binary(t)
	for _, c := range []config{
		{bin: bin, dur: time.Second, conc: 4, clients: 2},
		{bin: bin, dur: time.Second, conc: 16, clients: 2, rate: 100},
	} {
		var out bytes.Buffer
		if err := run(context.Background(), c, &out); err != nil {
			t.Fatalf("rate %d: %v", c.rate, err)
		}
		text := out.String()
		for _, o := range mix {
			var line string
			for _, l := range strings.Split(text, "\n") {
				if strings.HasPrefix(l, o.name+" ") {
					line = l
				}
			}
			f := strings.Fields(line)
			if len(f) < 3 {
				t.Fatalf("rate %d: no line for %s:\n%s", c.rate, o.name, text)
			}
			ok, _ := strconv.Atoi(f[1])
			errs, _ := strconv.Atoi(f[2])
			if ok == 0 || errs != 0 {
				t.Errorf("rate %d: %s ok %d errors %d:\n%s", c.rate, o.name, ok, errs, text)
			}
		}
		if !strings.Contains(text, "CPU-seconds per 1,000 operations") {
			t.Errorf("rate %d: no server CPU figure:\n%s", c.rate, text)
		}
	}
}
