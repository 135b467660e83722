package projections

import (
	"context"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
)

// acquire blocks until this instance may run the named projection, and
// returns a context that ends when it loses that right, plus the release.
//
// PostgreSQL: a session-level advisory lock on a dedicated connection; if
// the instance dies its session ends and the lock with it, and a standby
// takes it within LockRetry. SQLite (one host): a lease in
// projection_state (owner + heartbeat), taken over when the heartbeat is
// older than leaseTimeout; this also keeps the CLI from
// rebuilding what a running server owns.
func (r *Runner) acquire(ctx context.Context, w *worker) (context.Context, func(), error) {
	if r.cfg.DB.Dialect == Postgres {
		return r.acquirePG(ctx, w)
	}
	return r.acquireLease(ctx, w)
}

func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("authledger/projection/" + name))
	return int64(h.Sum64())
}

func (r *Runner) acquirePG(ctx context.Context, w *worker) (context.Context, func(), error) {
	name := w.name
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			_ = conn.Close(context.Background())
		}
	}()
	for {
		if conn == nil {
			c, err := pgx.Connect(ctx, r.cfg.DB.DSN)
			if err == nil {
				conn = c
			} else if ctx.Err() == nil {
				r.log.Warn("projection lock connection failed", "projection", name, "err", err)
				w.unreachable(err)
			}
		}
		if conn != nil {
			var ok bool
			if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, lockKey(name)).Scan(&ok); err != nil {
				_ = conn.Close(context.Background())
				conn = nil
				w.unreachable(err)
			} else if !ok {
				w.reachable()
			} else {
				held := conn
				conn = nil // owned by the watcher now
				return r.watchPG(ctx, name, held)
			}
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(r.cfg.LockRetry):
		}
	}
}

// watchPG pings the lock's connection; a failed ping means the session (and
// the lock) may be gone, so the projection must stop at once.
func (r *Runner) watchPG(ctx context.Context, name string, conn *pgx.Conn) (context.Context, func(), error) {
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(r.cfg.Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-t.C:
			}
			pctx, pcancel := context.WithTimeout(lctx, 5*time.Second)
			err := conn.Ping(pctx)
			pcancel()
			if err != nil && lctx.Err() == nil {
				r.log.Error("projection lock lost", "projection", name, "err", err)
				cancel()
				return
			}
		}
	}()
	r.log.Info("projection lock acquired", "projection", name, "instance", r.cfg.Instance)
	release := func() {
		cancel()
		<-done
		uctx, ucancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ucancel()
		_, _ = conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, lockKey(name))
		_ = conn.Close(uctx)
	}
	return lctx, release, nil
}

func (r *Runner) acquireLease(ctx context.Context, w *worker) (context.Context, func(), error) {
	name := w.name
	// The row is created once; only a failed insert (a busy file) is
	// retried, not repeated on every attempt to take the lease.
	rowReady := false
	for {
		var err error
		if !rowReady {
			err = w.ensureRow(ctx)
			rowReady = err == nil
		}
		if err == nil {
			var took bool
			took, err = r.state.takeLease(ctx, name, r.cfg.Instance, r.cfg.Now().Add(-r.leaseTimeout()))
			if took {
				return r.watchLease(ctx, name)
			}
		}
		if err != nil && ctx.Err() == nil {
			r.log.Warn("projection lease failed", "projection", name, "err", err)
			w.unreachable(err)
		} else if err == nil {
			w.reachable()
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(r.cfg.LockRetry):
		}
	}
}

// watchLease renews the lease every heartbeat (also while the CLI
// rebuilds, when no worker heartbeat runs) and ends the run when another
// process has taken it over.
func (r *Runner) watchLease(ctx context.Context, name string) (context.Context, func(), error) {
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(r.cfg.Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-t.C:
			}
			held, err := r.state.renewLease(lctx, name, r.cfg.Instance)
			if err != nil {
				continue // a busy file: the lease outlives a few missed renewals
			}
			if !held {
				r.log.Error("projection lease lost", "projection", name)
				cancel()
				return
			}
		}
	}()
	release := func() {
		cancel()
		<-done
		uctx, ucancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ucancel()
		_ = r.state.releaseLease(uctx, name, r.cfg.Instance)
	}
	return lctx, release, nil
}

// leaseTimeout is how old a SQLite lease's heartbeat must be before
// another process takes it over: three heartbeats, and never so short
// that a slow commit (a busy SQLite file) looks like a dead owner.
func (r *Runner) leaseTimeout() time.Duration {
	return max(3*r.cfg.Heartbeat, 2*time.Second)
}
