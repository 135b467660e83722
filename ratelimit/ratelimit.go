package ratelimit

import (
	"container/list"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// Limits are the limits of DESIGN.md §5. A zero field takes its default.
//
// Failed authentications are budgeted per (client id, source address) and
// per source address, never per client id alone: client ids are public
// (every access token carries one), so a budget keyed on the id alone lets
// anyone lock the real client out by failing on its behalf.
type Limits struct {
	// PerClient limits the authenticated requests of one client id: token,
	// revoke and introspect requests whose client authenticated, and /v1
	// requests whose verified bearer token names the client (client_id).
	// Default 100/s, burst 200. It is spent only after authentication, so
	// nobody without the client's credentials can spend it.
	PerClient      rate.Limit
	PerClientBurst int
	// FailuresPerClientAddress limits failed authentications naming one
	// client id from one source address: default 1/s, burst 20, so a burst
	// of a few hundred wrong secrets for one client gets 20 answers and
	// then 429s.
	FailuresPerClientAddress      rate.Limit
	FailuresPerClientAddressBurst int
	// FailuresPerAddress limits failed authentications from one source
	// address, whatever client ids it names: default 5/s, burst 100 — looser
	// than the per-client budget because many services may share one egress
	// address (NAT), and one misconfigured service should not lock the
	// others out.
	FailuresPerAddress      rate.Limit
	FailuresPerAddressBurst int
	// MaxKeys bounds each limit's in-process table (least recently used
	// keys are evicted); default 100 000.
	MaxKeys int
}

// DefaultLimits returns the documented defaults.
func DefaultLimits() Limits {
	return Limits{PerClient: 100, PerClientBurst: 200,
		FailuresPerClientAddress: 1, FailuresPerClientAddressBurst: 20,
		FailuresPerAddress: 5, FailuresPerAddressBurst: 100, MaxKeys: 100_000}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.PerClient <= 0 || l.PerClientBurst <= 0 {
		l.PerClient, l.PerClientBurst = d.PerClient, d.PerClientBurst
	}
	if l.FailuresPerClientAddress <= 0 || l.FailuresPerClientAddressBurst <= 0 {
		l.FailuresPerClientAddress, l.FailuresPerClientAddressBurst = d.FailuresPerClientAddress, d.FailuresPerClientAddressBurst
	}
	if l.FailuresPerAddress <= 0 || l.FailuresPerAddressBurst <= 0 {
		l.FailuresPerAddress, l.FailuresPerAddressBurst = d.FailuresPerAddress, d.FailuresPerAddressBurst
	}
	if l.MaxKeys <= 0 {
		l.MaxKeys = d.MaxKeys
	}
	return l
}

// bucketSpec is one keyed limit as GCRA: one token per interval, at most
// burst tokens banked.
type bucketSpec struct {
	name     string
	interval time.Duration
	burst    int
}

func newSpec(name string, limit rate.Limit, burst int) *bucketSpec {
	return &bucketSpec{name: name, interval: time.Duration(float64(time.Second) / float64(limit)), burst: burst}
}

// wait is how long until a token is free in a bucket whose theoretical
// arrival time is tat (0 when one is free now), and the tat after spending it.
func (s *bucketSpec) wait(tat, now time.Time) (time.Duration, time.Time) {
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(s.interval)
	allowAt := next.Add(-time.Duration(s.burst) * s.interval)
	if now.Before(allowAt) {
		return allowAt.Sub(now), tat
	}
	return 0, next
}

type bucketKey struct {
	spec *bucketSpec
	key  string
}

// holdState is the answer to a hold.
type holdState int

const (
	holdTaken   holdState = iota // a token of every bucket is set aside
	holdRefused                  // a bucket's tokens are spent: retry after wait
	holdBusy                     // a bucket's last tokens are held by requests in flight
)

// backend stores the buckets.
type backend interface {
	// spend takes one token from the bucket, or says how long until one is
	// free.
	spend(ctx context.Context, k bucketKey, now time.Time) (time.Duration, bool)
	// hold sets one token of every bucket aside, all or none, atomically,
	// for a request whose outcome is not known yet; settle spends the
	// tokens (failed) or puts them back. A bucket counts held tokens as
	// spent, so the requests in flight never exceed what is left of it.
	hold(ctx context.Context, keys []bucketKey, now time.Time) (st holdState, wait time.Duration, settle func(ctx context.Context, failed bool, now time.Time))
}

// Limiter applies Limits: in process (New), or shared by every instance
// through Redis (NewRedis).
type Limiter struct {
	perClient, failClientAddr, failAddr *bucketSpec
	store                               backend
}

func newSpecs(l Limits) (perClient, failClientAddr, failAddr *bucketSpec) {
	return newSpec("client", l.PerClient, l.PerClientBurst),
		newSpec("fail-client-addr", l.FailuresPerClientAddress, l.FailuresPerClientAddressBurst),
		newSpec("fail-addr", l.FailuresPerAddress, l.FailuresPerAddressBurst)
}

// New builds in-process limiters.
func New(l Limits) *Limiter {
	l = l.withDefaults()
	r := &Limiter{store: newMemBackend(l.MaxKeys)}
	r.perClient, r.failClientAddr, r.failAddr = newSpecs(l)
	return r
}

// NewRedis shares the limits between instances: each bucket is a
// GCRA "theoretical arrival time" in Redis under prefix, read, checked and
// written by one Lua script (atomic, one round trip). The failure buckets of
// one request share a hash tag (the address), so the script stays valid on
// Redis Cluster. If Redis fails, the instance falls back to its own
// in-process limits rather than refusing every client.
func NewRedis(l Limits, rdb redis.UniversalClient, prefix string) *Limiter {
	l = l.withDefaults()
	r := &Limiter{store: &redisBackend{rdb: rdb, prefix: prefix, fallback: newMemBackend(l.MaxKeys)}}
	r.perClient, r.failClientAddr, r.failAddr = newSpecs(l)
	return r
}

// once makes a settlement idempotent: only its first call counts.
func once(settle func(ctx context.Context, failed bool, now time.Time)) func(ctx context.Context, failed bool, now time.Time) {
	return func(ctx context.Context, failed bool, now time.Time) {
		if settle != nil {
			s := settle
			settle = nil
			s(ctx, failed, now)
		}
	}
}

// maxHoldWait bounds how long a request waits for tokens held by requests
// in flight (milliseconds each) before it is refused.
const maxHoldWait = 2 * time.Second

// ReserveFailure holds one token of the failure budgets of (client id,
// address) and of the address while a client authenticates, or refuses
// with how long to wait when either is spent. Holding at check time is what
// keeps the budget exact under concurrency: a check-then-spend-later
// limiter lets every request already in flight through. Only the caller's
// own address's failures can refuse it. When the last tokens are merely
// held by requests still authenticating, it waits for them to settle
// instead of refusing: many correct requests at once from one address must
// not be turned away by each other.
//
// When ok, the caller must call settle once the outcome is known: it spends
// the held tokens when the authentication failed and gives them back when
// it did not (a correct authentication is not a failure). Calls after the
// first do nothing.
func (r *Limiter) ReserveFailure(ctx context.Context, clientID, addr string, now time.Time) (settle func(ctx context.Context, failed bool, now time.Time), wait time.Duration, ok bool) {
	tag := "{" + addrKey(addr) + "}"
	keys := []bucketKey{{r.failAddr, tag}, {r.failClientAddr, tag + idKey(clientID)}}
	start := time.Now()
	// Backing off keeps a crowd of waiters from polling Redis in a loop.
	for pause := time.Millisecond; ; pause = min(2*pause, 50*time.Millisecond) {
		st, w, s := r.store.hold(ctx, keys, now)
		switch st {
		case holdTaken:
			return once(s), 0, true
		case holdRefused:
			return nil, w, false
		}
		if ctx.Err() != nil || time.Since(start) > maxHoldWait {
			return nil, time.Second, false
		}
		time.Sleep(pause)
	}
}

// SpendRequest spends one request of an authenticated client id, or says
// how long until one is free.
func (r *Limiter) SpendRequest(ctx context.Context, clientID string, now time.Time) (wait time.Duration, ok bool) {
	return r.store.spend(ctx, bucketKey{r.perClient, idKey(clientID)}, now)
}

// addrKey is the budget key of a source address. An IPv6 end site usually
// holds a whole /64, so IPv6 addresses are keyed by their /64: otherwise one
// host could mint a fresh budget per request.
func addrKey(addr string) string {
	ip := net.ParseIP(addr)
	if ip == nil {
		return idKey(addr)
	}
	if ip4 := ip.To4(); ip4 != nil {
		return ip4.String()
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// idKey bounds a caller-chosen key: long ids are hashed, so a table entry
// or Redis key never holds kilobytes an attacker picked.
func idKey(id string) string {
	if len(id) <= 64 {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "sha256:" + hex.EncodeToString(sum[:16])
}

// memBackend keeps the buckets in process. Each limit's table is bounded by
// evicting its least recently used key when full. The alternatives are
// worse: handing a new key an unstored limiter leaves it unlimited, and
// refusing new keys (fail closed) lets anyone with enough source addresses
// lock every new caller out. The least recently used bucket is the one most
// refilled (buckets refill with time, and a refused request counts as use,
// so a key being hammered stays in the table); evicting it forgives at most
// what a fresh address would get anyway. A bucket that refills completely
// on refund carries no information and is dropped at once.
type memBackend struct {
	mu     sync.Mutex
	max    int
	tables map[*bucketSpec]*lruTable
}

type lruTable struct {
	m     map[string]*list.Element // of *memBucket
	order list.List                // front: most recently used
}

type memBucket struct {
	key  string
	tat  time.Time
	held int
}

func newMemBackend(maxKeys int) *memBackend {
	return &memBackend{max: maxKeys, tables: map[*bucketSpec]*lruTable{}}
}

func (m *memBackend) table(s *bucketSpec) *lruTable {
	t := m.tables[s]
	if t == nil {
		t = &lruTable{m: map[string]*list.Element{}}
		m.tables[s] = t
	}
	return t
}

// bucket returns k's bucket as most recently used, adding it (and evicting
// the least recently used one when the table is full) if create is set.
func (m *memBackend) bucket(k bucketKey, create bool) *memBucket {
	t := m.table(k.spec)
	if el := t.m[k.key]; el != nil {
		t.order.MoveToFront(el)
		return el.Value.(*memBucket)
	}
	if !create {
		return nil
	}
	if len(t.m) >= m.max {
		oldest := t.order.Back()
		t.order.Remove(oldest)
		delete(t.m, oldest.Value.(*memBucket).key)
	}
	b := &memBucket{key: k.key}
	t.m[k.key] = t.order.PushFront(b)
	return b
}

// dropIfFull forgets a bucket that holds nothing and has refilled: it
// carries no information.
func (m *memBackend) dropIfFull(k bucketKey, b *memBucket, now time.Time) {
	if b.held == 0 && !b.tat.After(now) {
		t := m.table(k.spec)
		if el := t.m[k.key]; el != nil {
			t.order.Remove(el)
			delete(t.m, k.key)
		}
	}
}

func (m *memBackend) spend(_ context.Context, k bucketKey, now time.Time) (time.Duration, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var tat time.Time
	if b := m.bucket(k, false); b != nil {
		tat = b.tat
	}
	wait, next := k.spec.wait(tat, now)
	if wait > 0 {
		return wait, false
	}
	m.bucket(k, true).tat = next
	return 0, true
}

func (m *memBackend) hold(_ context.Context, keys []bucketKey, now time.Time) (holdState, time.Duration, func(context.Context, bool, time.Time)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var wait time.Duration
	busy := false
	for _, k := range keys {
		var tat time.Time
		held := 0
		if b := m.bucket(k, false); b != nil { // a refused key counts as used
			tat, held = b.tat, b.held
		}
		w, _ := k.spec.wait(tat, now)
		wait = max(wait, w)
		if w == 0 {
			if hw, _ := k.spec.wait(maxTime(tat, now).Add(time.Duration(held)*k.spec.interval), now); hw > 0 {
				busy = true
			}
		}
	}
	if wait > 0 {
		return holdRefused, wait, nil
	}
	if busy {
		return holdBusy, 0, nil
	}
	for _, k := range keys {
		m.bucket(k, true).held++
	}
	return holdTaken, 0, func(_ context.Context, failed bool, now time.Time) { m.settle(keys, failed, now) }
}

func (m *memBackend) settle(keys []bucketKey, failed bool, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		// Evicted meanwhile (only after MaxKeys newer keys): a failure is
		// still charged to a fresh bucket.
		b := m.bucket(k, failed)
		if b == nil {
			continue
		}
		if b.held > 0 {
			b.held--
		}
		if failed {
			b.tat = maxTime(b.tat, now).Add(k.spec.interval)
		}
		m.dropIfFull(k, b, now)
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// size reports how many keys a limit's table holds (tests).
func (m *memBackend) size(s *bucketSpec) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.table(s).m)
}

// gcraScript runs one operation on the buckets in KEYS, each a GCRA
// theoretical arrival time in microseconds at KEYS[i] and its held tokens
// in the sorted set KEYS[i]..":held" (member: hold id, score: when the hold
// lapses, so a crashed instance's holds do not pin a bucket for ever).
// ARGV: now µs, op, hold id, hold lifetime µs, then per key its emission
// interval µs and burst. Ops: "spend" (one bucket) and "hold" answer
// {1, 0} taken, {0, wait µs} refused, {2, 0} busy (the last tokens are
// held); "fail" and "release" settle a hold. Numbers are written with %.0f
// because Lua prints a 16-digit number in exponent form.
var gcraScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local op = ARGV[2]
local id = ARGV[3]
local life = tonumber(ARGV[4])
local function param(i) return tonumber(ARGV[3 + 2 * i]), tonumber(ARGV[4 + 2 * i]) end
local function tat_of(key)
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  return tat
end
local function store(key, tat)
  if tat <= now then
    redis.call('DEL', key)
  else
    redis.call('SET', key, string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
  end
end
if op == 'fail' or op == 'release' then
  for i, key in ipairs(KEYS) do
    local interval = param(i)
    redis.call('ZREM', key .. ':held', id)
    if op == 'fail' then store(key, tat_of(key) + interval) end
  end
  return {1, 0}
end
local wait, busy = 0, false
for i, key in ipairs(KEYS) do
  local interval, burst = param(i)
  local held = 0
  if op == 'hold' then
    redis.call('ZREMRANGEBYSCORE', key .. ':held', '-inf', now)
    held = redis.call('ZCARD', key .. ':held')
  end
  local tat = tat_of(key)
  local limit = now + burst * interval
  if tat + interval > limit then
    if tat + interval - limit > wait then wait = tat + interval - limit end
  elseif tat + (held + 1) * interval > limit then
    busy = true
  end
end
if wait > 0 then return {0, wait} end
if busy then return {2, 0} end
for i, key in ipairs(KEYS) do
  if op == 'hold' then
    redis.call('ZADD', key .. ':held', string.format('%.0f', now + life), id)
    redis.call('PEXPIRE', key .. ':held', math.ceil(life / 1000) + 1)
  else
    local interval = param(i)
    store(key, tat_of(key) + interval)
  end
end
return {1, 0}
`)

var errRedisDown = errors.New("ratelimit: redis marked down")

type redisBackend struct {
	rdb      redis.UniversalClient
	prefix   string
	fallback *memBackend
	// downUntil (unix ns, wall clock) skips Redis for a while after an
	// error, so an outage does not add a dial timeout to every request.
	downUntil atomic.Int64
}

// redisRetryAfter is how long a failed Redis limiter stays on the local one.
const redisRetryAfter = 2 * time.Second

// holdLifetime is how long a hold may stay unsettled in Redis: far longer
// than any authentication, short enough that a crashed instance's holds
// lapse soon.
const holdLifetime = 30 * time.Second

func (b *redisBackend) run(ctx context.Context, op, id string, keys []bucketKey, now time.Time) ([]int64, error) {
	if time.Now().UnixNano() < b.downUntil.Load() {
		return nil, errRedisDown
	}
	names := make([]string, len(keys))
	args := []any{now.UnixMicro(), op, id, holdLifetime.Microseconds()}
	for i, k := range keys {
		names[i] = b.prefix + k.spec.name + ":" + k.key
		args = append(args, k.spec.interval.Microseconds(), k.spec.burst)
	}
	res, err := gcraScript.Run(ctx, b.rdb, names, args...).Int64Slice()
	if err == nil && len(res) != 2 {
		err = errors.New("ratelimit: unexpected script answer")
	}
	if err != nil {
		b.downUntil.Store(time.Now().Add(redisRetryAfter).UnixNano())
		return nil, err
	}
	return res, nil
}

func (b *redisBackend) spend(ctx context.Context, k bucketKey, now time.Time) (time.Duration, bool) {
	res, err := b.run(ctx, "spend", "", []bucketKey{k}, now)
	if err != nil {
		return b.fallback.spend(ctx, k, now)
	}
	return time.Duration(res[1]) * time.Microsecond, res[0] == 1
}

func (b *redisBackend) hold(ctx context.Context, keys []bucketKey, now time.Time) (holdState, time.Duration, func(context.Context, bool, time.Time)) {
	id := rand.Text()
	res, err := b.run(ctx, "hold", id, keys, now)
	if err != nil {
		return b.fallback.hold(ctx, keys, now)
	}
	switch res[0] {
	case 1:
	case 2:
		return holdBusy, 0, nil
	default:
		return holdRefused, time.Duration(res[1]) * time.Microsecond, nil
	}
	// A settlement that cannot reach Redis is dropped: the hold lapses
	// after holdLifetime (a failure goes uncharged, a success's token
	// returns late), and it never touches a backend that did not hold.
	return holdTaken, 0, func(ctx context.Context, failed bool, now time.Time) {
		op := "release"
		if failed {
			op = "fail"
		}
		_, _ = b.run(context.WithoutCancel(ctx), op, id, keys, now)
	}
}
