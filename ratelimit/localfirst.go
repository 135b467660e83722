package ratelimit

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// localFirst spends request budgets in process and reconciles them with
// the other instances through Redis at most every `every`, in one
// pipelined round trip for all the keys spent since the last sync, so a
// request never waits on Redis. Each instance counts what it admitted per
// key in a Redis counter (INCRBY); the counter's growth beyond its own
// share is what the others admitted, and is charged to the local bucket as
// if this instance had admitted it. The error is bounded: until the next
// sync, each other instance admits at most what its own bucket allows
// (burst + rate × every), so N instances admit at most (N−1) × (burst +
// rate × every) beyond the shared limit, after which every bucket carries
// the whole cluster's spending again.
type localFirst struct {
	local *memBackend
	rb    *redisBackend
	every time.Duration

	mu      sync.Mutex
	pending map[bucketKey]int64 // admitted here since the last sync
	seen    map[bucketKey]seenCount
	lastNow time.Time // the latest request time, the clock of charges

	syncMu   sync.Mutex
	lastSync atomic.Int64 // unix ns of the last sync started
	syncing  atomic.Bool
}

// seenCount is a key's cluster-wide counter at the last sync and when this
// instance last spent the key.
type seenCount struct {
	count int64
	used  time.Time
}

// counterTTL keeps a key's counter well past any bucket's refill, so a
// counter never restarts under a busy key; an idle one expires.
const counterTTL = time.Minute

func newLocalFirst(rb *redisBackend, maxKeys int, every time.Duration) *localFirst {
	return &localFirst{local: newMemBackend(maxKeys), rb: rb, every: every,
		pending: map[bucketKey]int64{}, seen: map[bucketKey]seenCount{}}
}

func (b *localFirst) spend(ctx context.Context, keys []bucketKey, now time.Time) (time.Duration, bool) {
	wait, ok := b.local.spend(ctx, keys, now)
	if ok {
		b.mu.Lock()
		for _, k := range keys {
			b.pending[k]++
		}
		if now.After(b.lastNow) {
			b.lastNow = now
		}
		b.mu.Unlock()
	}
	b.maybeSync()
	return wait, ok
}

// maybeSync starts one background sync when the last began at least
// `every` ago; requests only ever read two atomics.
func (b *localFirst) maybeSync() {
	if time.Now().UnixNano()-b.lastSync.Load() < int64(b.every) || !b.syncing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer b.syncing.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = b.sync(ctx)
	}()
}

// sync reports this instance's spending since the last sync and charges
// the local buckets with the others'. On a Redis failure the spending is
// kept for the next sync and the buckets stay local.
func (b *localFirst) sync(ctx context.Context) error {
	b.syncMu.Lock()
	defer b.syncMu.Unlock()
	b.lastSync.Store(time.Now().UnixNano())
	b.mu.Lock()
	pend, now := b.pending, b.lastNow
	b.pending = map[bucketKey]int64{}
	// Keys spent lately but not since the last sync are read too (INCRBY
	// 0), so the others' use of them keeps being charged.
	for k, s := range b.seen {
		if _, ok := pend[k]; !ok && now.Sub(s.used) < counterTTL/2 {
			pend[k] = 0
		} else if !ok {
			delete(b.seen, k)
		}
	}
	b.mu.Unlock()
	if len(pend) == 0 {
		return nil
	}
	restore := func() {
		b.mu.Lock()
		for k, n := range pend {
			b.pending[k] += n
		}
		b.mu.Unlock()
	}
	if time.Now().UnixNano() < b.rb.downUntil.Load() {
		restore()
		return errRedisDown
	}
	keys := make([]bucketKey, 0, len(pend))
	cmds := make([]*redis.IntCmd, 0, len(pend))
	_, err := b.rb.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for k, n := range pend {
			name := b.rb.prefix + "n:" + k.spec.name + ":" + k.key
			keys = append(keys, k)
			cmds = append(cmds, p.IncrBy(ctx, name, n))
			p.PExpire(ctx, name, counterTTL)
		}
		return nil
	})
	if err != nil {
		b.rb.downUntil.Store(time.Now().Add(redisRetryAfter).UnixNano())
		restore()
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, k := range keys {
		total, mine := cmds[i].Val(), pend[k]
		prev, known := b.seen[k]
		used := prev.used
		if mine > 0 {
			used = now
		}
		b.seen[k] = seenCount{count: total, used: used}
		// A key first seen, or whose counter expired and restarted, has
		// no baseline: its past is not charged.
		if others := total - mine - prev.count; known && others > 0 {
			b.local.charge(k, others, now)
		}
	}
	return nil
}

// charge spends n tokens of k's bucket without asking: what other
// instances admitted. The bucket's debt is capped at two bursts, so a
// burst elsewhere delays this instance's next admission by at most
// about two refills of the burst.
func (m *memBackend) charge(k bucketKey, n int64, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	bk := m.bucket(k, true)
	tat := bk.tat
	if tat.Before(now) {
		tat = now
	}
	tat = tat.Add(time.Duration(n) * k.spec.interval)
	if limit := now.Add(2 * time.Duration(k.spec.burst) * k.spec.interval); tat.After(limit) {
		tat = limit
	}
	bk.tat = tat
}
