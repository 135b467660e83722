package main

import (
	"log/slog"
	"strings"
)

// secretKeys are substrings of log attribute keys whose values are never
// written: a credential that reaches a log line by mistake (a debug field,
// a wrapped request) is masked at the one handler every line goes through.
var secretKeys = []string{"password", "secret", "token", "authorization", "cookie", "assertion", "master_key", "private_key", "pepper"}

// logRedacted replaces the value of a secret-looking attribute.
const logRedacted = "[REDACTED]"

// redactAttr is the JSON handler's ReplaceAttr: it masks every attribute
// (at any group depth) whose key names a credential.
func redactAttr(_ []string, a slog.Attr) slog.Attr {
	k := strings.ToLower(a.Key)
	for _, s := range secretKeys {
		if strings.Contains(k, s) {
			return slog.String(a.Key, logRedacted)
		}
	}
	return a
}
