package redisguard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authledger/authledger/internal/redistest"
)

func TestHealthyAnswersAreNotFailures(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, true},
		{redis.Nil, true},
		{fmt.Errorf("wrapped: %w", redis.Nil), true},
		{context.DeadlineExceeded, false},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, false},
		{io.EOF, false},
		{redis.ErrClosed, false},
	} {
		if got := healthy(c.err); got != c.want {
			t.Errorf("healthy(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestBlockingReadsAreNotGuarded(t *testing.T) {
	ctx := context.Background()
	if !blocking(redis.NewXStreamSliceCmd(ctx, "xreadgroup", "group", "g", "c", "block", 1000, "streams", "s", ">")) {
		t.Error("XREADGROUP BLOCK is blocking")
	}
	if blocking(redis.NewXStreamSliceCmd(ctx, "xread", "streams", "s", "0")) {
		t.Error("XREAD without BLOCK is not blocking")
	}
	if blocking(redis.NewStringCmd(ctx, "get", "k")) {
		t.Error("GET is not blocking")
	}
}

// An error reply (here WRONGTYPE) is an answer from a working Redis and
// never opens the breaker; the guard's deadline does not cut a blocking
// read short.
func TestErrorRepliesKeepTheBreakerClosed(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
	defer rdb.Close()
	g := Install(rdb, Config{Timeout: 100 * time.Millisecond, Failures: 1})
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := rdb.LPush(ctx, "k", "x").Err(); err == nil || errors.Is(err, ErrOpen) {
			t.Fatalf("LPUSH on a string: %v, want WRONGTYPE", err)
		}
	}
	if err := rdb.BLPop(ctx, time.Second, "empty").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("BLPOP past the guard's deadline: %v, want a timeout answer (redis.Nil)", err)
	}
	if g.Open() {
		t.Fatalf("breaker %s after error replies", g.State())
	}
}
