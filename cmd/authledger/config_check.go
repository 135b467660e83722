package main

import (
	"fmt"
	"net"
	"os"
	"reflect"
	"sort"
	"strings"
)

// setting is one configuration variable: its name without the prefix and
// the struct field that holds it.
type setting struct {
	name  string
	field reflect.StructField
	index []int
}

// settings lists every AUTHLEDGER_* variable Config reads, embedded parts
// included, from the env tags, so a field added anywhere in Config is known
// to the unknown-variable check and to `authledger config` without a second
// list to keep in step.
func settings() []setting {
	var out []setting
	var walk func(t reflect.Type, index []int)
	walk = func(t reflect.Type, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			idx := append(append([]int(nil), index...), i)
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				walk(f.Type, idx)
				continue
			}
			if name := f.Tag.Get("env"); name != "" {
				out = append(out, setting{name: name, field: f, index: idx})
			}
		}
	}
	walk(reflect.TypeFor[Config](), nil)
	return out
}

// extraVariables are AUTHLEDGER_* variables read outside Config: the file
// that holds it, and the local secret provider's master key, which that
// provider reads itself so the key never sits in a Config value.
var extraVariables = []string{"CONFIG", "MASTER_KEY"}

func knownSetting(name string) bool {
	for _, s := range settings() {
		if s.name == name {
			return true
		}
	}
	for _, x := range extraVariables {
		if x == name {
			return true
		}
	}
	return false
}

// nearest is the known name closest to name by edit distance, or "" when
// none is close enough to be a plausible typo.
func nearest(name string) string {
	name = strings.ToUpper(name)
	best, bestD := "", max(3, len(name)/3)+1
	for _, s := range settings() {
		d := editDistance(name, s.name)
		// A truncated name (REDIS for REDIS_URL) is a likelier slip than its
		// edit distance says.
		if len(name) >= 4 && (strings.HasPrefix(s.name, name) || strings.HasPrefix(name, s.name)) {
			d = min(d, 1)
		}
		if d < bestD {
			best, bestD = s.name, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// unknownVariables warns about every AUTHLEDGER_* variable that no setting
// reads: a typo there silently leaves the default in force, which for the
// issuer or the store is the wrong service. AUTHLEDGER_TEST_* belongs to the
// test suites and is not the service's.
func unknownVariables(environ []string) []string {
	var warnings []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		name, ok := strings.CutPrefix(k, envPrefix)
		if !ok || strings.HasPrefix(name, "TEST_") || knownSetting(name) {
			continue
		}
		w := fmt.Sprintf("%s is not a setting and is ignored", k)
		if n := nearest(name); n != "" {
			w += fmt.Sprintf("; did you mean %s%s?", envPrefix, n)
		}
		warnings = append(warnings, w)
	}
	sort.Strings(warnings)
	return warnings
}

// unknownFileKey names a YAML key that is not a setting, with the nearest
// one, for the error that refuses the file.
func unknownFileKey(key string) error {
	if knownSetting(strings.ToUpper(key)) {
		return nil
	}
	msg := fmt.Sprintf("unknown key %q", key)
	if n := nearest(key); n != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", strings.ToLower(n))
	}
	return fmt.Errorf("%s", msg)
}

// derivedIssuer is the issuer a changed listen address implies when the
// issuer was left at its default: discovery advertising localhost:8080 for a
// service on :9090 sends every client to the wrong place. A wildcard or
// loopback host becomes localhost (the embedded profile is for one machine);
// any other host is kept.
func derivedIssuer(listen string) (string, bool) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil || port == "" {
		return "", false
	}
	switch host {
	case "", "0.0.0.0", "::", "127.0.0.1", "::1", "localhost":
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port), true
}

// sources says where each setting's value came from: the environment, the
// YAML file, derived from another setting, or the default.
type sources map[string]string

func (s sources) of(name string) string {
	if v, ok := s[name]; ok {
		return v
	}
	return "default"
}

// environSources marks the variables set in the process environment before
// the YAML file is applied, so a value the file exported is told apart.
func environSources() sources {
	s := sources{}
	for _, st := range settings() {
		if _, ok := os.LookupEnv(envPrefix + st.name); ok {
			s[st.name] = "env"
		}
	}
	return s
}
