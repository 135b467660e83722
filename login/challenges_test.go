package login_test

import (
	"net/http"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/authledger/authledger/internal/redistest"
	"github.com/authledger/authledger/login"
)

// withRedisChallenges keeps the fixture's ceremonies in the shared Redis.
func withRedisChallenges(t *testing.T) fixtureOpt {
	rdb := redistest.Client(t)
	prefix := redistest.Prefix(t, rdb, "ceremony")
	return func(f *fixture, cfg *login.Config) {
		cfg.Challenges = login.NewRedisChallenges(rdb, prefix, f.clock.Now)
	}
}

// The ceremony store's promises hold in Redis too: one take per
// challenge, five minutes, and two instances sharing it.
func TestRedisCeremoniesAreSingleUseExpireAndAreShared(t *testing.T) {
	t.Parallel()
	shared := withRedisChallenges(t)
	f := newFixture(t, shared)
	b := f.browser()
	a := newAuthenticator(t, rpID, origin)
	mustStatus(t, b.register(a, f.link("alice")), http.StatusCreated)

	opts := b.post("/login/passkey/signin/options", map[string]string{})
	ceremony := b.cookies[login.CeremonyCookie]
	mustStatus(t, b.post("/login/passkey/signin", a.get(opts.body)), http.StatusOK)
	b.cookies[login.CeremonyCookie] = ceremony
	mustStatus(t, b.post("/login/passkey/signin", a.get(opts.body)), http.StatusBadRequest)

	opts = b.post("/login/passkey/signin/options", map[string]string{})
	f.clock.Add(login.ChallengeLifetime)
	mustStatus(t, b.post("/login/passkey/signin", a.get(opts.body)), http.StatusBadRequest)

	// Begun on one instance, finished on another sharing the Redis.
	second := newFixtureOn(t, f.store, shared)
	opts = b.post("/login/passkey/signin/options", map[string]string{})
	b.f = second
	mustStatus(t, b.post("/login/passkey/signin", a.get(opts.body)), http.StatusOK)
}

func TestAnUnreachableCeremonyStoreRefusesSignIn(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1: every command fails at once.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	f := newFixture(t, func(f *fixture, cfg *login.Config) {
		cfg.Challenges = login.NewRedisChallenges(rdb, "c:", f.clock.Now)
	})
	res := f.browser().post("/login/passkey/signin/options", map[string]string{})
	mustStatus(t, res, http.StatusServiceUnavailable)
}
