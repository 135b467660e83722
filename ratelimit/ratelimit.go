package ratelimit

import (
	"container/list"
	"context"
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
// anyone lock the real client out by failing on its behalf. And they are
// charged only once the credentials have been checked and found wrong
// (ChargeFailure), so they slow further failures and never refuse a
// correct authentication, whoever failed before it.
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
	// Classes gives an endpoint class (ClassToken, ClassIntrospection,
	// ClassRevocation, ClassV1) a request budget of its own per client. A
	// class not set here spends the client's one PerClient budget, as
	// every class does by default.
	Classes map[string]Rate
	// ClientRate, when set, returns a client's own request rate (from its
	// registration): it replaces PerClient and every class's rate for
	// that client, each class keeping its own bucket as above.
	ClientRate func(clientID string) (Rate, bool)
	// SyncEvery makes a Redis limiter's request budgets local-first
	// (NewRedis only; 0 keeps one Redis round trip per request): each
	// instance spends its own in-process buckets and, at most every
	// SyncEvery, tells Redis in one pipelined round trip how much it spent
	// and charges its buckets with what the other instances spent. See
	// docs/api.md "Rate limits" for the bound on the error. Failure budgets
	// stay exact (one script per failure) whatever this says.
	SyncEvery time.Duration
}

// Rate is one request budget: a sustained rate and a burst.
type Rate struct {
	PerSecond rate.Limit
	Burst     int
}

func (r Rate) valid() bool { return r.PerSecond > 0 && r.Burst > 0 }

// Endpoint classes whose request budgets Limits.Classes may set apart.
const (
	ClassToken         = "token"
	ClassIntrospection = "introspection"
	ClassRevocation    = "revocation"
	ClassV1            = "v1"
)

// Classes lists the endpoint classes.
var Classes = []string{ClassToken, ClassIntrospection, ClassRevocation, ClassV1}

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
	classes := map[string]Rate{}
	for c, r := range l.Classes {
		if r.valid() {
			classes[c] = r
		}
	}
	l.Classes = classes
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

// backend stores the buckets.
type backend interface {
	// spend takes one token from every bucket, all or none, atomically, or
	// says how long until each has one free. A refused spend takes nothing.
	spend(ctx context.Context, keys []bucketKey, now time.Time) (time.Duration, bool)
}

// Limiter applies Limits: in process (New), or shared by every instance
// through Redis (NewRedis).
type Limiter struct {
	perClient, failClientAddr, failAddr *bucketSpec
	store                               backend
	// requests is the backend of request budgets: store, or the
	// local-first one (Limits.SyncEvery).
	requests   backend
	classes    map[string]Rate
	clientRate func(string) (Rate, bool)
	specs      sync.Map // specKey → *bucketSpec, so each budget keeps one table
}

type specKey struct {
	name string
	rate Rate
}

// requestSpec is the bucket a request of clientID in class spends.
func (r *Limiter) requestSpec(clientID, class string) *bucketSpec {
	name, rt, set := "client", Rate{}, false
	if c, ok := r.classes[class]; ok {
		name, rt, set = "client-"+class, c, true
	}
	if r.clientRate != nil {
		if o, ok := r.clientRate(clientID); ok && o.valid() {
			rt, set = o, true
		}
	}
	if !set {
		return r.perClient
	}
	k := specKey{name, rt}
	if s, ok := r.specs.Load(k); ok {
		return s.(*bucketSpec)
	}
	s, _ := r.specs.LoadOrStore(k, newSpec(name, rt.PerSecond, rt.Burst))
	return s.(*bucketSpec)
}

func (r *Limiter) init(l Limits) {
	r.perClient, r.failClientAddr, r.failAddr = newSpecs(l)
	r.classes, r.clientRate = l.Classes, l.ClientRate
	if r.requests == nil {
		r.requests = r.store
	}
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
	r.init(l)
	return r
}

// NewRedis shares the limits between instances: each bucket is a
// GCRA "theoretical arrival time" in Redis under prefix, read, checked and
// written by one Lua script (atomic, one round trip). The failure buckets of
// one request share a hash tag (the address), so the script stays valid on
// Redis Cluster. If Redis fails, the instance falls back to its own
// in-process limits rather than refusing every client.
//
// github.com/go-redis/redis_rate implements the same GCRA, but it is not
// used: it spends one key per call, where a failure spends the (client,
// address) and the address buckets all or none in one step, and it reads
// Redis's clock, where these limits take the caller's (so the in-process
// fallback answers alike and tests pin time).
func NewRedis(l Limits, rdb redis.UniversalClient, prefix string) *Limiter {
	l = l.withDefaults()
	rb := &redisBackend{rdb: rdb, prefix: prefix, fallback: newMemBackend(l.MaxKeys)}
	r := &Limiter{store: rb}
	if l.SyncEvery > 0 {
		r.requests = newLocalFirst(rb, l.MaxKeys, l.SyncEvery)
	}
	r.init(l)
	return r
}

// ChargeFailure spends one failed authentication of the failure budgets of
// (client id, address) and of the address, or refuses with how long to
// wait when either is spent; a refused charge spends neither. Call it only
// once the credentials have been checked and found wrong: a correct
// authentication never consults a failure budget, so failures (anyone's,
// since client ids are public) can never refuse correct credentials. They
// slow only further failures of that pair and that address. Each charge
// is atomic, so under any concurrency a budget answers exactly its burst
// of failures before refusing.
func (r *Limiter) ChargeFailure(ctx context.Context, clientID, addr string, now time.Time) (wait time.Duration, ok bool) {
	tag := "{" + addrKey(addr) + "}"
	return r.store.spend(ctx, []bucketKey{{r.failAddr, tag}, {r.failClientAddr, tag + idKey(clientID)}}, now)
}

// SpendRequest spends one request of an authenticated client id from its
// PerClient budget (or its registration's), or says how long until one is
// free.
func (r *Limiter) SpendRequest(ctx context.Context, clientID string, now time.Time) (wait time.Duration, ok bool) {
	return r.SpendClass(ctx, clientID, "", now)
}

// SpendClass spends one request of clientID at an endpoint of class: from
// the class's own budget when Limits.Classes sets one, else from the
// client's PerClient budget; a client's registered rate replaces either.
func (r *Limiter) SpendClass(ctx context.Context, clientID, class string, now time.Time) (wait time.Duration, ok bool) {
	return r.requests.spend(ctx, []bucketKey{{r.requestSpec(clientID, class), idKey(clientID)}}, now)
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
// what a fresh address would get anyway.
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
	key string
	tat time.Time
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

func (m *memBackend) spend(_ context.Context, keys []bucketKey, now time.Time) (time.Duration, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var wait time.Duration
	next := make([]time.Time, len(keys))
	for i, k := range keys {
		var tat time.Time
		if b := m.bucket(k, false); b != nil { // a refused key counts as used
			tat = b.tat
		}
		var w time.Duration
		w, next[i] = k.spec.wait(tat, now)
		wait = max(wait, w)
	}
	if wait > 0 {
		return wait, false
	}
	for i, k := range keys {
		m.bucket(k, true).tat = next[i]
	}
	return 0, true
}

// size reports how many keys a limit's table holds (tests).
func (m *memBackend) size(s *bucketSpec) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.table(s).m)
}

// gcraScript spends one token of every bucket in KEYS, all or none: each
// bucket is a GCRA theoretical arrival time in microseconds at KEYS[i].
// ARGV: now µs, then per key its emission interval µs and burst. It
// answers {1, 0} spent or {0, wait µs} refused (nothing written). Numbers
// are written with %.0f because Lua prints a 16-digit number in exponent
// form; a key expires once its bucket has refilled.
var gcraScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local wait = 0
local tats = {}
for i, key in ipairs(KEYS) do
  local interval, burst = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  local over = tat + interval - (now + burst * interval)
  if over > wait then wait = over end
  tats[i] = tat + interval
end
if wait > 0 then return {0, wait} end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, string.format('%.0f', tats[i]), 'PX', math.ceil((tats[i] - now) / 1000) + 1)
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

func (b *redisBackend) spend(ctx context.Context, keys []bucketKey, now time.Time) (time.Duration, bool) {
	res, err := b.run(ctx, keys, now)
	if err != nil {
		return b.fallback.spend(ctx, keys, now)
	}
	return time.Duration(res[1]) * time.Microsecond, res[0] == 1
}

func (b *redisBackend) run(ctx context.Context, keys []bucketKey, now time.Time) ([]int64, error) {
	if time.Now().UnixNano() < b.downUntil.Load() {
		return nil, errRedisDown
	}
	names := make([]string, len(keys))
	args := []any{now.UnixMicro()}
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
