package commands

import (
	"context"
	"errors"
	"testing"
)

// BenchmarkStartCommandWithoutAProvider is what a use case's span costs
// when tracing is off (the default): the global no-op provider.
func BenchmarkStartCommandWithoutAProvider(b *testing.B) {
	ctx := context.Background()
	err := errors.New("x")
	b.ReportAllocs()
	for b.Loop() {
		_, end := startCommand(ctx, "IssueClientCredentials")
		end(err)
	}
}
