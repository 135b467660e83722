package client_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/authledger/authledger/domain/client"
)

func TestRegistrationRecordsWhichGrantsArePrivileged(t *testing.T) {
	t.Parallel()
	c := client.Load("svc-a", nil)
	reg := client.Registration{ID: "svc-a", Name: "login", Secret: secret("s1", "pw"),
		Scopes:    []string{"read", "sessions:create", "audit:read", "sessions:create"},
		Audiences: []string{"https://billing.example", "edge", "api"}}
	if err := c.Register(reg, t0); err != nil {
		t.Fatal(err)
	}
	e := c.Pending()[0].(client.Registered)
	if !slices.Equal(e.Privileged.Scopes, []string{"sessions:create", "audit:read"}) || !slices.Equal(e.Privileged.Audiences, []string{"edge", "api"}) {
		t.Fatalf("privileged = %+v", e.Privileged)
	}
	b, _ := json.Marshal(e)
	if !strings.Contains(string(b), `"privileged":{"scopes":["sessions:create","audit:read"],"audiences":["edge","api"]}`) {
		t.Fatalf("the event does not record it: %s", b)
	}
	if v := replayed(t, nil, c); !slices.Equal(v.Privileged().Scopes, e.Privileged.Scopes) {
		t.Fatalf("view privileged = %+v", v.Privileged())
	}

	plain := client.Load("svc-b", nil)
	if err := plain.Register(client.Registration{ID: "svc-b", Name: "b", Scopes: []string{"read", "Audit:read"}, Audiences: []string{"API"}, Secret: secret("s1", "pw")}, t0); err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(plain.Pending()[0])
	if strings.Contains(string(b), "privileged") {
		t.Fatalf("an unprivileged registration records privileges: %s", b)
	}
	// Events recorded before the field existed still decode, with none.
	old, err := client.Decode(client.TypeRegistered, []byte(`{"client_id":"svc-c","name":"c","scopes":["audit:read"],"audiences":[],"at":"2026-01-02T03:04:05Z"}`))
	if err != nil || !old.(client.Registered).Privileged.IsZero() {
		t.Fatalf("old event: %v %+v", err, old)
	}
}

func TestGrantChangesRecordThePrivilegedNames(t *testing.T) {
	t.Parallel()
	c := client.Load("svc-a", registered(t))
	if err := c.ChangeScopes([]string{"read", "services:admin"}, t0); err != nil {
		t.Fatal(err)
	}
	if err := c.ChangeAudiences([]string{"api"}, t0); err != nil {
		t.Fatal(err)
	}
	p := c.Pending()
	if s := p[0].(client.ScopesChanged); !slices.Equal(s.Privileged, []string{"services:admin"}) {
		t.Fatalf("scopes changed: %+v", s)
	}
	if a := p[1].(client.AudiencesChanged); !slices.Equal(a.Privileged, []string{"api"}) {
		t.Fatalf("audiences changed: %+v", a)
	}
}
