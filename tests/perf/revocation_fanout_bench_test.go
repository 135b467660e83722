package perf_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authledger/authledger/domain/token"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/postgres"
	"github.com/authledger/authledger/internal/bus"
	"github.com/authledger/authledger/internal/pgtest"
	"github.com/authledger/authledger/readmodels/revocations"
)

// BenchmarkRevocationFanout measures how long a revocation appended by one
// instance takes to be denied by another instance's revocation set
// (DESIGN.md §6: < 1 s, aim < 100 ms), over one PostgreSQL ledger:
//
//	go test -run '^$' -bench RevocationFanout -benchtime 200x ./tests/perf/
//
// "ledger-feed" is the LISTEN/NOTIFY feed alone; "redis-stream" adds the
// bus hint (a Redis stream) the revoking instance publishes right after
// its append.
func BenchmarkRevocationFanout(b *testing.B) {
	for _, withRedis := range []bool{false, true} {
		name := "ledger-feed"
		if withRedis {
			name = "redis-stream"
		}
		b.Run(name, func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			dsn := pgtest.NewDatabase(b)
			writer, err := postgres.Open(ctx, dsn, postgres.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer writer.Close()
			// The other instance has its own connection pool and listener.
			reader, err := postgres.Open(ctx, dsn, postgres.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer reader.Close()
			other := revocations.New(nil)
			go func() { _ = other.Follow(ctx, reader) }()
			var pub *revocations.Fanout
			if withRedis {
				prefix := fmt.Sprintf("authledger:bench:revocations:%d:", time.Now().UnixNano())
				rc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
				defer rc.Close()
				sc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
				defer sc.Close()
				pb, err := bus.New(bus.Config{Redis: rc, Prefix: prefix})
				if err != nil {
					b.Fatal(err)
				}
				defer pb.Close()
				defer rc.Del(context.Background(), pb.Stream(bus.TopicRevocations))
				sb, err := bus.New(bus.Config{Redis: sc, Prefix: prefix})
				if err != nil {
					b.Fatal(err)
				}
				defer sb.Close()
				pub = revocations.NewFanout(pb, pb, revocations.New(nil))
				go func() { _ = revocations.NewFanout(sb, sb, other).Run(ctx) }()
				for sb.Subscriptions(bus.TopicRevocations) == 0 {
					time.Sleep(5 * time.Millisecond)
				}
			}
			lat := make([]time.Duration, b.N)
			b.ResetTimer()
			for i := range b.N {
				jti := fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), i)
				exp := time.Now().Add(10 * time.Minute)
				data, _ := json.Marshal(token.AccessTokenRevoked{JTI: jti, ExpiresAt: exp, At: time.Now()})
				t0 := time.Now()
				if _, err := writer.Append(ctx, eventstore.StreamAppend{Stream: token.Stream(jti), Expected: eventstore.Any(),
					Events: []eventstore.Event{{Type: token.TypeAccessTokenRevoked, Data: data}}}); err != nil {
					b.Fatal(err)
				}
				if pub != nil {
					// As the service does: the hint goes out after the
					// append, and the other instance takes whichever path
					// arrives first; the publish round trip is not waited on.
					go func() { _ = pub.PublishRevocation(ctx, "jti", jti, exp) }()
				}
				for !other.IsRevoked(jti, "", "") {
					if time.Since(t0) > 5*time.Second {
						b.Fatal("revocation never arrived")
					}
					time.Sleep(50 * time.Microsecond)
				}
				lat[i] = time.Since(t0)
			}
			b.StopTimer()
			reportLatency(b, lat)
		})
	}
}
