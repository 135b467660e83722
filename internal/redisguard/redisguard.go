// Package redisguard bounds what a slow or hung Redis can cost: every
// command gets a short deadline, and a circuit breaker
// (github.com/sony/gobreaker/v2) stops sending commands once Redis has
// failed a few times in a row. While the breaker is open a command fails at
// once with ErrOpen, so a frozen Redis costs one timeout per breaker window
// instead of one per request; after the window one probe command is let
// through, and its success closes the breaker again.
//
// It is a go-redis hook: install it on the client (Install) and every user
// of that client (session store, replay guard, rate limiter, bus
// publishes) is guarded. Blocking reads (XREAD/XREADGROUP with BLOCK,
// BLPOP…) wait on purpose, so they get no deadline and do not count.
package redisguard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
)

// ErrOpen is returned, without contacting Redis, while the breaker is open
// (or half open with its probe already in flight).
var ErrOpen = errors.New("redisguard: redis circuit breaker open")

// Defaults, documented in README.md ("Redis outages").
const (
	// DefaultTimeout is the deadline of one Redis command or pipeline.
	DefaultTimeout = 200 * time.Millisecond
	// DefaultFailures consecutive failures open the breaker.
	DefaultFailures = 3
	// DefaultOpenFor is how long the breaker stays open before one probe.
	DefaultOpenFor = 2 * time.Second
)

// Config tunes a Guard; zero fields take the defaults.
type Config struct {
	Timeout  time.Duration
	Failures uint32
	OpenFor  time.Duration
	Logger   *slog.Logger
}

// Guard is the hook. Its zero value is not usable; use New.
type Guard struct {
	timeout time.Duration
	cb      *gobreaker.TwoStepCircuitBreaker[struct{}]
}

// errExcluded marks outcomes that say nothing about Redis's health (the
// caller gave up first).
var errExcluded = errors.New("redisguard: caller cancelled")

// New builds a Guard.
func New(c Config) *Guard {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Failures == 0 {
		c.Failures = DefaultFailures
	}
	if c.OpenFor <= 0 {
		c.OpenFor = DefaultOpenFor
	}
	log := c.Logger
	if log == nil {
		log = slog.Default()
	}
	failures := c.Failures
	return &Guard{
		timeout: c.Timeout,
		cb: gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
			Name:        "redis",
			MaxRequests: 1,
			Timeout:     c.OpenFor,
			ReadyToTrip: func(n gobreaker.Counts) bool { return n.ConsecutiveFailures >= failures },
			IsExcluded:  func(err error) bool { return errors.Is(err, errExcluded) },
			OnStateChange: func(_ string, from, to gobreaker.State) {
				if to == gobreaker.StateOpen {
					log.Warn("redis circuit breaker open: Redis calls fail fast", "from", from.String(), "open_for", c.OpenFor.String())
				} else {
					log.Info("redis circuit breaker "+to.String(), "from", from.String())
				}
			},
		}),
	}
}

// Install adds a new Guard to rdb and returns it.
func Install(rdb *redis.Client, c Config) *Guard {
	g := New(c)
	rdb.AddHook(g)
	return g
}

// State is the breaker's state ("closed", "open", "half-open").
func (g *Guard) State() string { return g.cb.State().String() }

// Open reports whether calls currently fail fast.
func (g *Guard) Open() bool { return g.cb.State() == gobreaker.StateOpen }

// DialHook leaves dialing alone: it runs inside a guarded command.
func (g *Guard) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook guards one command.
func (g *Guard) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if blocking(cmd) {
			return next(ctx, cmd)
		}
		return g.do(ctx, func(ctx context.Context) error {
			err := next(ctx, cmd)
			if err == nil {
				err = cmd.Err()
			}
			return err
		}, func(err error) { cmd.SetErr(err) })
	}
}

// ProcessPipelineHook guards a pipeline or transaction as one call.
func (g *Guard) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		return g.do(ctx, func(ctx context.Context) error { return next(ctx, cmds) }, func(err error) {
			for _, c := range cmds {
				c.SetErr(err)
			}
		})
	}
}

// inside marks a context already guarded: the handshake commands a new
// connection sends (HELLO, CLIENT SETINFO) run inside the command that
// dialed it, under its deadline and its one breaker admission.
type inside struct{}

func (g *Guard) do(ctx context.Context, call func(context.Context) error, refuse func(error)) error {
	if ctx.Value(inside{}) == g {
		return call(ctx)
	}
	done, err := g.cb.Allow()
	if err != nil {
		err = fmt.Errorf("%w (%w)", ErrOpen, err)
		refuse(err)
		return err
	}
	cctx, cancel := context.WithTimeout(context.WithValue(ctx, inside{}, g), g.timeout)
	err = call(cctx)
	cancel()
	switch {
	case ctx.Err() != nil:
		done(errExcluded)
	case healthy(err):
		done(nil)
	default:
		done(err)
	}
	return err
}

// healthy reports whether err is an answer from a working Redis: none, a
// miss, or an error reply (NOSCRIPT, WRONGTYPE…). Timeouts, closed
// connections and refused dials are not.
func healthy(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) {
		return true
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, redis.ErrClosed) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return false
	}
	var re redis.Error
	if errors.As(err, &re) {
		return !strings.HasPrefix(re.Error(), "LOADING") && !strings.HasPrefix(re.Error(), "BUSY")
	}
	return false
}

// blocking reports commands that wait on the server by design.
func blocking(cmd redis.Cmder) bool {
	switch strings.ToLower(cmd.Name()) {
	case "blpop", "brpop", "brpoplpush", "blmove", "blmpop", "bzpopmin", "bzpopmax", "bzmpop", "wait", "waitaof", "subscribe", "psubscribe", "ssubscribe":
		return true
	case "xread", "xreadgroup":
		for _, a := range cmd.Args() {
			if s, ok := a.(string); ok && strings.EqualFold(s, "block") {
				return true
			}
		}
	}
	return false
}
