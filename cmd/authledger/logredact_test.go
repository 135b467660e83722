package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestTheServeLoggerWritesJSONAndMasksCredentials(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := newLogger(&buf, "info")
	const secret = "s3cr3t-value-that-must-not-leak"
	log.Info("request refused", "request_id", "rid-1", "client_secret", secret, "Authorization", "Basic "+secret,
		slog.Group("form", "refresh_token", secret, "grant_type", "refresh_token"), "session_cookie", secret, "client_id", "svc-1")
	line := buf.String()
	if strings.Contains(line, secret) {
		t.Fatalf("a credential reached the log: %s", line)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatalf("not one JSON object: %v: %s", err, line)
	}
	if got["request_id"] != "rid-1" || got["client_id"] != "svc-1" || got["msg"] != "request refused" {
		t.Errorf("ordinary fields changed: %s", line)
	}
	if got["client_secret"] != logRedacted || got["Authorization"] != logRedacted || got["session_cookie"] != logRedacted {
		t.Errorf("secrets not masked: %s", line)
	}
	if form, _ := got["form"].(map[string]any); form["refresh_token"] != logRedacted || form["grant_type"] != "refresh_token" {
		t.Errorf("grouped fields: %v", got["form"])
	}
}
