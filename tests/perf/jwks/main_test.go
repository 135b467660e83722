package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestDriverReportsFigures runs the driver briefly: it must complete
// requests without errors and print every figure. Not a timing assertion.
func TestDriverReportsFigures(t *testing.T) {
	for _, client := range []string{"raw", "nethttp"} {
		for _, conditional := range []bool{true, false} {
			var out bytes.Buffer
			if err := run("", 4, 200*time.Millisecond, conditional, client, &out); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"req/s", "p95", "cache hit rate", "errors 0"} {
				if !strings.Contains(out.String(), want) {
					t.Fatalf("%s: output lacks %q:\n%s", client, want, out.String())
				}
			}
		}
	}
}
