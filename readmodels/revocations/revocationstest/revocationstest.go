// Package revocationstest is the contract every commands.RevocationPublisher
// passes: the in-process revocation set, and the bus-backed fan-out on
// GoChannel and on Redis. Each adapter's test calls Run with a factory.
package revocationstest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/readmodels/revocations"
)

// Wait bounds how long a revocation may take to reach another instance.
const Wait = 5 * time.Second

// Instances is one publishing instance and one that receives its
// revocations, as a factory builds them for one test.
type Instances struct {
	// Publisher is the publishing instance's commands.RevocationPublisher.
	Publisher commands.RevocationPublisher
	// Local is the publishing instance's own revocation set.
	Local *revocations.Set
	// Remote is a receiving instance's set: the same as Local for an
	// adapter that does not leave the process.
	Remote *revocations.Set
	// Inject, where there is a transport, puts a raw payload on it as
	// another (perhaps buggy or hostile) instance could. Nil skips the
	// receiver checks.
	Inject func(ctx context.Context, payload []byte) error
	// Received counts what the receiving instance has taken off the
	// transport, applied or dropped. Set together with Inject.
	Received func() uint64
}

// Factory builds fresh instances for one test; it registers its own
// cleanup and returns only once Remote's subscription is live.
type Factory func(t *testing.T) Instances

// Run runs the contract against the instances newInstances builds.
func Run(t *testing.T, newInstances Factory) {
	t.Run("the publishing instance refuses the token at once", func(t *testing.T) {
		t.Parallel()
		in := newInstances(t)
		until := time.Now().Add(time.Minute)
		if err := in.Publisher.PublishRevocation(context.Background(), "jti", "j-local", until); err != nil {
			t.Fatal(err)
		}
		if !in.Local.IsRevoked("j-local", "", "") {
			t.Fatal("the publishing instance does not deny its own revocation when PublishRevocation returns")
		}
	})
	t.Run("every kind reaches a receiving instance within a bounded wait", func(t *testing.T) {
		t.Parallel()
		in := newInstances(t)
		until := time.Now().Add(time.Minute)
		ctx := context.Background()
		for _, k := range []struct {
			kind    string
			revoked func(s *revocations.Set) bool
		}{
			{"jti", func(s *revocations.Set) bool { return s.IsRevoked("j1", "", "") }},
			{"sid", func(s *revocations.Set) bool { return s.IsRevoked("", "s1", "") }},
			{"family", func(s *revocations.Set) bool { return s.IsRevoked("", "", "f1") }},
		} {
			id := map[string]string{"jti": "j1", "sid": "s1", "family": "f1"}[k.kind]
			if k.revoked(in.Remote) {
				t.Fatalf("%s %s revoked before it was published", k.kind, id)
			}
			if err := in.Publisher.PublishRevocation(ctx, k.kind, id, until); err != nil {
				t.Fatalf("%s: %v", k.kind, err)
			}
			eventually(t, fmt.Sprintf("%s %s reaches the receiving instance", k.kind, id), func() bool { return k.revoked(in.Remote) })
		}
		// Nothing else came along.
		if in.Remote.IsRevoked("j2", "s2", "f2") {
			t.Fatal("an id that was never published is revoked")
		}
	})
	t.Run("an unknown kind is refused and revokes nothing", func(t *testing.T) {
		t.Parallel()
		in := newInstances(t)
		if err := in.Publisher.PublishRevocation(context.Background(), "bogus", "x1", time.Now().Add(time.Minute)); err == nil {
			t.Fatal("an unknown kind was accepted")
		}
		if err := in.Publisher.PublishRevocation(context.Background(), "jti", "after-bogus", time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the next revocation arrives", func() bool { return in.Remote.IsRevoked("after-bogus", "", "") })
		for _, s := range []*revocations.Set{in.Local, in.Remote} {
			if s.IsRevoked("x1", "x1", "x1") {
				t.Fatal("the refused revocation is in a set")
			}
		}
	})
	t.Run("an already expired revocation revokes nothing", func(t *testing.T) {
		t.Parallel()
		in := newInstances(t)
		if err := in.Publisher.PublishRevocation(context.Background(), "jti", "old", time.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := in.Publisher.PublishRevocation(context.Background(), "jti", "fresh", time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the fresh revocation arrives", func() bool { return in.Remote.IsRevoked("fresh", "", "") })
		if in.Local.IsRevoked("old", "", "") || in.Remote.IsRevoked("old", "", "") {
			t.Fatal("a revocation whose tokens have all expired is kept")
		}
	})
	t.Run("receivers drop junk: not JSON, unknown kinds, empty and oversized ids", func(t *testing.T) {
		t.Parallel()
		in := newInstances(t)
		if in.Inject == nil {
			t.Skip("no transport between instances")
		}
		until := time.Now().Add(time.Minute).UTC().Format(time.RFC3339Nano)
		long := strings.Repeat("x", revocations.MaxHintID+1)
		junk := []string{
			`not json`,
			`{"type":"bogus","id":"k1","until":"` + until + `"}`,
			`{"type":"jti","id":"","until":"` + until + `"}`,
			`{"type":"jti","id":"` + long + `","until":"` + until + `"}`,
			`{"type":"sid","id":"` + long + `","until":"` + until + `"}`,
		}
		before := in.Received()
		for _, p := range junk {
			if err := in.Inject(context.Background(), []byte(p)); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, "the receiver handles every injected message", func() bool { return in.Received() >= before+uint64(len(junk)) })
		if in.Remote.IsRevoked("k1", "k1", "k1") || in.Remote.IsRevoked(long, long, long) || in.Remote.IsRevoked("", "", "") {
			t.Fatal("junk revoked something")
		}
		// The receiver is still alive after the junk.
		exact := strings.Repeat("y", revocations.MaxHintID)
		if err := in.Inject(context.Background(), []byte(`{"type":"jti","id":"`+exact+`","until":"`+until+`"}`)); err != nil {
			t.Fatal(err)
		}
		eventually(t, "a well-formed hint after the junk arrives", func() bool { return in.Remote.IsRevoked(exact, "", "") })
	})
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(Wait)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, Wait)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
