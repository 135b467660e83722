package e2e

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// otlpReceiver is an in-process OTLP/HTTP trace receiver: it decodes
// every export the way a collector does and keeps the spans.
type otlpReceiver struct {
	mu       sync.Mutex
	spans    []*tracepb.Span
	services map[string]bool
	bad      []string
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		o.mu.Lock()
		o.bad = append(o.bad, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type"))
		o.mu.Unlock()
		http.Error(w, "not OTLP/HTTP traces", http.StatusBadRequest)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	var req coltrace.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(b, &req)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.Key == "service.name" {
				o.services[kv.GetValue().GetStringValue()] = true
			}
		}
		for _, ss := range rs.ScopeSpans {
			o.spans = append(o.spans, ss.Spans...)
		}
	}
	o.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	_, _ = w.Write(out)
}

// byName returns the spans whose name starts with prefix.
func (o *otlpReceiver) byName(prefix string) []*tracepb.Span {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range o.spans {
		if strings.HasPrefix(s.Name, prefix) {
			out = append(out, s)
		}
	}
	return out
}

// With an OTLP endpoint configured through the standard variables, a
// client_credentials request is traced from the HTTP span through the
// grant, the command and the ledger append to its group-commit batch, with
// the projections and Redis calls beside it.
func TestTracesReachAnOTLPReceiver(t *testing.T) {
	t.Parallel()
	rcv := &otlpReceiver{services: map[string]bool{}}
	col := httptest.NewServer(rcv)
	t.Cleanup(col.Close) // after the server's own cleanup has stopped it and flushed its spans
	srv := e2eharness.Start(t, bin, e2eharness.Options{Env: map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": col.URL,
		"OTEL_BSP_SCHEDULE_DELAY":     "100", // ms: export soon, so the test need not wait for the 5 s default
		"AUTHLEDGER_REDIS_URL":        "redis://127.0.0.1:6379/12",
	}})
	svc := registerService(t, srv, "--name", "traced", "--scopes", "reports:read")
	var tok string
	eventually(t, "a token", func() error {
		code, body := postForm(t, srv.BaseURL, "/oauth2/token", svc, url.Values{"grant_type": {"client_credentials"}, "scope": {"reports:read"}})
		if code != 200 {
			return errString("token: " + http.StatusText(code))
		}
		tok, _ = body["access_token"].(string)
		return nil
	})
	// A revocation appends to the ledger through a command too.
	if code, body := postForm(t, srv.BaseURL, "/oauth2/revoke", svc, url.Values{"token": {tok}}); code != 200 {
		t.Fatalf("revoke: %d %v", code, body)
	}

	want := []string{"POST /oauth2/token", "oauth2.token client_credentials", "command IssueClientCredentials", "command RevokeToken",
		"ledger.append", "ledger.commit_batch", "projection revocations.v1", "xadd" /* the revocation on the Redis bus */}
	deadline := time.Now().Add(30 * time.Second)
	for _, name := range want {
		for len(rcv.byName(name)) == 0 {
			if time.Now().After(deadline) {
				rcv.mu.Lock()
				var seen []string
				for _, s := range rcv.spans {
					seen = append(seen, s.Name)
				}
				rcv.mu.Unlock()
				t.Fatalf("no span %q exported within 30 s; seen %q (bad requests %q)", name, seen, rcv.bad)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// The grant's span is a child of the HTTP span, and the command's of
	// the grant's, in one trace.
	httpSpan := rcv.byName("POST /oauth2/token")[0]
	var grant *tracepb.Span
	for _, s := range rcv.byName("oauth2.token client_credentials") {
		if string(s.TraceId) == string(httpSpan.TraceId) {
			grant = s
		}
	}
	if grant == nil || string(grant.ParentSpanId) != string(httpSpan.SpanId) {
		t.Fatalf("the grant span is not under the HTTP span of its request")
	}
	var cmd *tracepb.Span
	for _, s := range rcv.byName("command IssueClientCredentials") {
		if string(s.ParentSpanId) == string(grant.SpanId) {
			cmd = s
		}
	}
	if cmd == nil {
		t.Fatal("the command span is not under the grant span")
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if !rcv.services["authledger"] {
		t.Errorf("no service.name=authledger resource: %v", rcv.services)
	}
	if len(rcv.bad) > 0 {
		t.Errorf("requests that were not OTLP trace exports: %q", rcv.bad)
	}
	// Nothing secret in any attribute: the client secret and the token
	// never appear.
	for _, s := range rcv.spans {
		for _, kv := range s.Attributes {
			v := kv.GetValue().GetStringValue()
			if svc.ClientSecret != "" && strings.Contains(v, svc.ClientSecret) || tok != "" && strings.Contains(v, tok) {
				t.Fatalf("span %s attribute %s holds a credential", s.Name, kv.Key)
			}
		}
	}
}
