// Package telemetry sets up OpenTelemetry tracing from the standard OTEL_*
// environment variables, and names the tracers the other packages use.
// Tracing is off unless an OTLP endpoint is configured: a fresh start
// exports nothing and dials nothing.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Enabled reports whether the environment asks for trace export: an OTLP
// endpoint (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
// OTEL_EXPORTER_OTLP_ENDPOINT) or OTEL_TRACES_EXPORTER=otlp, and neither
// OTEL_SDK_DISABLED=true nor OTEL_TRACES_EXPORTER=none. The OpenTelemetry
// default exporter is otlp to localhost; authledger instead stays off until
// told where to send, so a default start never dials a collector.
func Enabled(getenv func(string) string) bool {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return false
	}
	switch strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))) {
	case "none":
		return false
	case "otlp":
		return true
	}
	return getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != ""
}

// ErrUnsupported names an OTEL_* setting this build cannot honour.
var ErrUnsupported = errors.New("telemetry: unsupported setting")

// Setup installs the global tracer provider and the W3C trace-context
// propagator when Enabled, and returns the function that flushes and
// stops it (a no-op when off). The exporter reads the standard variables
// itself (endpoint, headers, timeout, compression, certificates); the
// sampler follows OTEL_TRACES_SAMPLER and the resource OTEL_SERVICE_NAME
// (default "authledger") and OTEL_RESOURCE_ATTRIBUTES.
func Setup(ctx context.Context, version string) (shutdown func(context.Context) error, err error) {
	noop := func(context.Context) error { return nil }
	if !Enabled(os.Getenv) {
		return noop, nil
	}
	proto := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if proto == "" {
		proto = os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	if proto != "" && proto != "http/protobuf" {
		// gRPC would pull a second transport into the binary; OTLP over
		// HTTP is what every collector accepts too.
		return noop, fmt.Errorf("%w: OTEL_EXPORTER_OTLP_PROTOCOL=%s (only http/protobuf)", ErrUnsupported, proto)
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return noop, fmt.Errorf("telemetry: OTLP exporter: %w", err)
	}
	// Defaults first: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win.
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "authledger"), attribute.String("service.version", version)),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return noop, fmt.Errorf("telemetry: resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return tp.Shutdown, nil
}
