package client_test

import (
	"errors"
	"testing"

	"github.com/authledger/authledger/domain/client"
)

func TestARegisteredRateLimitIsRecordedAndBounded(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		rl   *client.RateLimit
		err  error
	}{
		{"no rate limit keeps the defaults", nil, nil},
		{"a busy resource server's limit is recorded", &client.RateLimit{PerSecond: 5000, Burst: 10000}, nil},
		{"the upper bounds are allowed", &client.RateLimit{PerSecond: client.MaxRatePerSecond, Burst: client.MaxRateBurst}, nil},
		{"a zero rate is refused", &client.RateLimit{PerSecond: 0, Burst: 10}, client.ErrInvalidRateLimit},
		{"a zero burst is refused", &client.RateLimit{PerSecond: 10, Burst: 0}, client.ErrInvalidRateLimit},
		{"a rate past the bound is refused", &client.RateLimit{PerSecond: client.MaxRatePerSecond + 1, Burst: 10}, client.ErrInvalidRateLimit},
		{"a burst past the bound is refused", &client.RateLimit{PerSecond: 10, Burst: client.MaxRateBurst + 1}, client.ErrInvalidRateLimit},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := client.Load("svc-a", nil)
			err := c.Register(client.Registration{ID: "svc-a", Name: "a", Secret: secret("s1", "pw"), RateLimit: tc.rl}, t0)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			folded := client.Load("svc-a", c.Pending()).View()
			switch {
			case tc.rl == nil && folded.RateLimit != nil:
				t.Fatalf("view has rate limit %+v", *folded.RateLimit)
			case tc.rl != nil && (folded.RateLimit == nil || *folded.RateLimit != *tc.rl):
				t.Fatalf("view rate limit %v, want %+v", folded.RateLimit, *tc.rl)
			}
		})
	}
}
