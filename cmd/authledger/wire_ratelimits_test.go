package main

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/authledger/authledger/ratelimit"
)

func TestRateLimitSettings(t *testing.T) {
	t.Run("the defaults are 100/s, burst 200, one budget for every class, synced every 100ms", func(t *testing.T) {
		clearEnv(t)
		c, err := LoadConfig()
		if err != nil {
			t.Fatal(err)
		}
		l, errs := c.RateLimitConfig.limits()
		if len(errs) > 0 || l.PerClient != 100 || l.PerClientBurst != 200 || len(l.Classes) != 0 || l.SyncEvery != 100*time.Millisecond {
			t.Fatalf("limits %+v, errors %v", l, errs)
		}
		d := ratelimit.DefaultLimits()
		if l.FailuresPerAddress != d.FailuresPerAddress || l.FailuresPerClientAddress != d.FailuresPerClientAddress {
			t.Fatal("the failure budgets moved")
		}
	})
	t.Run("a class rate gets its own budget, its burst twice the rate unless set", func(t *testing.T) {
		clearEnv(t)
		t.Setenv("AUTHLEDGER_RATE_LIMIT_PER_CLIENT", "2500")
		t.Setenv("AUTHLEDGER_RATE_LIMIT_INTROSPECTION", "5000")
		t.Setenv("AUTHLEDGER_RATE_LIMIT_V1", "50")
		t.Setenv("AUTHLEDGER_RATE_LIMIT_V1_BURST", "60")
		c, err := LoadConfig()
		if err != nil {
			t.Fatal(err)
		}
		l, _ := c.RateLimitConfig.limits()
		if l.PerClient != 2500 || l.PerClientBurst != 200 ||
			l.Classes[ratelimit.ClassIntrospection] != (ratelimit.Rate{PerSecond: rate.Limit(5000), Burst: 10000}) ||
			l.Classes[ratelimit.ClassV1] != (ratelimit.Rate{PerSecond: 50, Burst: 60}) || len(l.Classes) != 2 {
			t.Fatalf("limits %+v", l)
		}
	})
	t.Run("bad settings are named", func(t *testing.T) {
		clearEnv(t)
		t.Setenv("AUTHLEDGER_RATE_LIMIT_PER_CLIENT", "-5")
		t.Setenv("AUTHLEDGER_RATE_LIMIT_TOKEN", "-1")
		t.Setenv("AUTHLEDGER_RATE_LIMIT_REVOCATION_BURST", "-3")
		t.Setenv("AUTHLEDGER_RATE_LIMIT_REVOCATION", "10")
		t.Setenv("AUTHLEDGER_RATE_LIMIT_SYNC_EVERY", "-1s")
		_, err := LoadConfig()
		for _, want := range []string{"RATE_LIMIT_PER_CLIENT:", "RATE_LIMIT_TOKEN:", "RATE_LIMIT_REVOCATION_BURST:", "RATE_LIMIT_SYNC_EVERY:"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error %v does not name %s", err, want)
			}
		}
	})
}
