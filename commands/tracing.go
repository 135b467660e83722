package commands

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
)

// tracer names the write side's spans. Without a provider installed
// (internal/telemetry, off by default) they are no-ops.
var tracer = otel.Tracer("github.com/authledger/authledger/commands")

// startCommand starts the span of one use case, "command <name>"; the
// returned func ends it with the outcome. A failure marks the span with
// the error's type only: error texts may carry identifiers meant for the
// log, and nothing of a command's input (credentials, tokens) is recorded.
func startCommand(ctx context.Context, name string) (context.Context, func(error)) {
	ctx, s := tracer.Start(ctx, "command "+name)
	if !s.IsRecording() {
		// Tracing off (the default): no attributes to build.
		return ctx, func(error) { s.End() }
	}
	s.SetAttributes(attribute.String("authledger.command", name))
	return ctx, func(err error) {
		if err != nil {
			s.SetAttributes(attribute.String("error.type", fmt.Sprintf("%T", err)))
			s.SetStatus(codes.Error, "")
		}
		s.End()
	}
}
