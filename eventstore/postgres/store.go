// Package postgres is the production ledger adapter (pgx v5). Appends go
// through a per-process group commit writer; across processes the chain
// head is serialized inside PostgreSQL by a transaction-scoped advisory
// lock, so any number of instances extend one gapless chain. Each commit
// sends a NOTIFY that a dedicated LISTEN connection turns into a feed
// wake-up.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/internal/groupcommit"
	"github.com/authledger/authledger/internal/migrate"
)

// Options tunes the adapter. The zero value is the production default.
type Options struct {
	// MaxBatch bounds how many appends share one transaction (default 256).
	MaxBatch int
	// OnBatch, if set, is told the number of appends of each committed
	// group-commit transaction (metrics).
	OnBatch func(appends int)
	// FlushWindow is how long the writer waits to grow a batch after its
	// first append; 0 (default) flushes as soon as the writer is free.
	FlushWindow time.Duration
	// FeedWake bounds how long an idle feed waits when no notification
	// arrives, covering notifications lost while the listener reconnects
	// (default 3s). It is a safety net, not the delivery path.
	FeedWake time.Duration
	// MaxConns sizes the connection pool (default 8).
	MaxConns int32
	// Now stamps recorded_at; nil means time.Now.
	Now func() time.Time
	// Logger reports a lost LISTEN connection; nil means slog.Default().
	Logger *slog.Logger
	// MustExist refuses (ErrNoLedger) a database that holds no ledger
	// schema instead of creating it: read-only tools (audit verify, keys
	// list, …) pointed at the wrong database must not leave a ledger there.
	MustExist bool
}

// ErrNoLedger is returned by Open with Options.MustExist when the database
// (under its search_path) holds no ledger schema.
var ErrNoLedger = errors.New("postgres: no ledger in this database")

func (o Options) withDefaults() Options {
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	if o.FeedWake <= 0 {
		o.FeedWake = 3 * time.Second
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 8
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Store is the PostgreSQL eventstore.Store.
type Store struct {
	pool *pgxpool.Pool
	gc   *groupcommit.Writer
	sig  *eventstore.Signal
	opt  Options

	stop     context.CancelFunc
	listener sync.WaitGroup
}

var _ eventstore.Store = (*Store)(nil)

// Open connects to dsn, applies any pending schema migrations (with
// Options.MustExist, only to a ledger already there), and starts the
// group-commit writer and the LISTEN connection.
func Open(ctx context.Context, dsn string, opt Options) (*Store, error) {
	opt = opt.withDefaults()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse error may echo the DSN, password included.
		return nil, errors.New("postgres: invalid ledger DSN")
	}
	cfg.MaxConns = opt.MaxConns
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if opt.MustExist {
		var exists bool
		if err := pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
			pool.Close()
			return nil, fmt.Errorf("postgres: look for the ledger schema: %w", err)
		}
		if !exists {
			pool.Close()
			return nil, ErrNoLedger
		}
	}
	if err := applyMigrations(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	s := &Store{pool: pool, sig: eventstore.NewSignal(), opt: opt}
	s.gc = groupcommit.New(backend{pool: pool}, groupcommit.Options{
		MaxBatch: opt.MaxBatch, FlushWindow: opt.FlushWindow, Now: opt.Now,
		Batched: opt.OnBatch,
		// Local subscribers need not wait for the NOTIFY round trip.
		Committed: s.sig.Notify,
	})
	lctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.listener.Add(1)
	go s.listen(lctx, cfg.ConnConfig.Copy())
	return s, nil
}

func applyMigrations(ctx context.Context, pool *pgxpool.Pool) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer tx.Rollback(ctx)
	// Two processes starting together: the second waits here, then sees
	// the first one's migrations as applied.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLockKey); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	if err := migrate.Run(ctx, pgxTx{tx}, migrate.Table{
		Component: "postgres: ledger",
		Create: `CREATE TABLE IF NOT EXISTS schema_migrations (
			version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
		Current: `SELECT coalesce(max(version), 0) FROM schema_migrations`,
		Record:  `INSERT INTO schema_migrations (version) VALUES ($1)`,
	}, migrations); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// pgxTx adapts a pgx transaction to the migration runner.
type pgxTx struct{ tx pgx.Tx }

func (t pgxTx) Exec(ctx context.Context, q string, args ...any) error {
	_, err := t.tx.Exec(ctx, q, args...)
	return err
}

func (t pgxTx) QueryInt(ctx context.Context, q string) (int, error) {
	var n int
	err := t.tx.QueryRow(ctx, q).Scan(&n)
	return n, err
}

// listen keeps one connection in LISTEN and wakes the feed on every NOTIFY.
// After a lost connection it reconnects with backoff and wakes the feed once,
// since notifications sent meanwhile are gone.
func (s *Store) listen(ctx context.Context, cc *pgx.ConnConfig) {
	defer s.listener.Done()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, cc, func() { backoff = 100 * time.Millisecond })
		if ctx.Err() != nil {
			return
		}
		// Feeds still advance on their safety wake-up meanwhile, only slower.
		s.opt.Logger.Warn("ledger notification listener lost, reconnecting", "err", err, "retry_in", backoff)
		s.sig.Notify()
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (s *Store) listenOnce(ctx context.Context, cc *pgx.ConnConfig, connected func()) error {
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `LISTEN `+notifyChannel); err != nil {
		return err
	}
	connected()
	s.sig.Notify()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		s.sig.Notify()
	}
}

// Append implements eventstore.Store.
func (s *Store) Append(ctx context.Context, appends ...eventstore.StreamAppend) ([]eventstore.Record, error) {
	recs, err := s.gc.Append(ctx, appends)
	return recs, classify(err)
}

const columns = `position, stream, version, id::text, type, recorded_at, data::text, metadata::text, prev_hash, hash`

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string) ([]eventstore.Record, error) {
	recs, err := s.query(ctx, `SELECT `+columns+` FROM events WHERE stream = $1 ORDER BY version`, stream)
	return recs, classify(err)
}

// ReadAll implements eventstore.Store.
func (s *Store) ReadAll(ctx context.Context, after uint64, limit int) ([]eventstore.Record, error) {
	var recs []eventstore.Record
	var err error
	if limit <= 0 {
		recs, err = s.query(ctx, `SELECT `+columns+` FROM events WHERE position > $1 ORDER BY position`, int64(after))
	} else {
		recs, err = s.query(ctx, `SELECT `+columns+` FROM events WHERE position > $1 ORDER BY position LIMIT $2`, int64(after), limit)
	}
	return recs, classify(err)
}

// Head implements eventstore.Store.
func (s *Store) Head(ctx context.Context) (eventstore.Head, error) {
	h, err := head(ctx, s.pool)
	return h, classify(err)
}

type queryRower interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func head(ctx context.Context, q queryRower) (eventstore.Head, error) {
	var (
		pos  int64
		hash string
		at   time.Time
	)
	err := q.QueryRow(ctx, `SELECT position, hash, recorded_at FROM events ORDER BY position DESC LIMIT 1`).Scan(&pos, &hash, &at)
	if errors.Is(err, pgx.ErrNoRows) {
		return eventstore.Head{Hash: eventstore.GenesisHash}, nil
	}
	if err != nil {
		return eventstore.Head{}, fmt.Errorf("postgres: head: %w", err)
	}
	return eventstore.Head{Position: uint64(pos), Hash: hash, RecordedAt: at.UTC()}, nil
}

// Subscribe implements eventstore.Store.
func (s *Store) Subscribe(ctx context.Context, after uint64, h eventstore.Handler) error {
	return eventstore.Follow(ctx, s.ReadAll, s.sig, s.opt.FeedWake, after, h)
}

// Close commits every queued append, stops the listener and closes the pool.
func (s *Store) Close() error {
	s.gc.Close()
	s.stop()
	s.listener.Wait()
	s.pool.Close()
	return nil
}

func (s *Store) query(ctx context.Context, q string, args ...any) ([]eventstore.Record, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: read: %w", err)
	}
	defer rows.Close()
	var out []eventstore.Record
	for rows.Next() {
		var (
			r          eventstore.Record
			pos, ver   int64
			data, meta string
		)
		if err := rows.Scan(&pos, &r.Stream, &ver, &r.ID, &r.Type, &r.RecordedAt, &data, &meta, &r.PrevHash, &r.Hash); err != nil {
			return nil, fmt.Errorf("postgres: read: %w", err)
		}
		r.Position, r.Version = uint64(pos), uint64(ver)
		r.RecordedAt = r.RecordedAt.UTC()
		r.Data, r.Metadata = []byte(data), []byte(meta)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: read: %w", err)
	}
	return out, nil
}

// backend is the PostgreSQL side of group commit. A flush costs two round
// trips: BEGIN, lock, head and versions pipelined in one batch; insert,
// NOTIFY and COMMIT in another.
type backend struct{ pool *pgxpool.Pool }

const versionsQuery = `SELECT s.stream, (SELECT max(e.version) FROM events e WHERE e.stream = s.stream)
	FROM unnest($1::text[]) AS s(stream)`

func (b backend) Begin(ctx context.Context, streams []string) (groupcommit.Tx, eventstore.Head, map[string]uint64, error) {
	conn, err := b.pool.Acquire(ctx)
	if err != nil {
		return nil, eventstore.Head{}, nil, fmt.Errorf("postgres: begin: %w", err)
	}
	t := &pgTx{conn: conn}
	batch := &pgx.Batch{}
	batch.Queue(`BEGIN`)
	// The lock is its own statement: under READ COMMITTED the queries
	// that follow take their snapshot after the previous holder committed.
	batch.Queue(`SELECT pg_advisory_xact_lock($1)`, appendLockKey)
	batch.Queue(`SELECT position, hash, recorded_at FROM events ORDER BY position DESC LIMIT 1`)
	batch.Queue(versionsQuery, streams)
	h, versions, err := readBegin(conn.SendBatch(ctx, batch))
	if err != nil {
		return nil, eventstore.Head{}, nil, errors.Join(fmt.Errorf("postgres: begin: %w", err), t.Rollback(ctx))
	}
	return t, h, versions, nil
}

func readBegin(br pgx.BatchResults) (h eventstore.Head, versions map[string]uint64, err error) {
	defer func() { err = errors.Join(err, br.Close()) }()
	if _, err := br.Exec(); err != nil {
		return h, nil, err
	}
	if _, err := br.Exec(); err != nil {
		return h, nil, fmt.Errorf("lock chain head: %w", err)
	}
	var (
		pos int64
		at  time.Time
	)
	switch err := br.QueryRow().Scan(&pos, &h.Hash, &at); {
	case errors.Is(err, pgx.ErrNoRows):
		h = eventstore.Head{Hash: eventstore.GenesisHash}
	case err != nil:
		return h, nil, fmt.Errorf("head: %w", err)
	default:
		h.Position, h.RecordedAt = uint64(pos), at.UTC()
	}
	rows, err := br.Query()
	if err != nil {
		return h, nil, fmt.Errorf("versions: %w", err)
	}
	defer rows.Close()
	versions = map[string]uint64{}
	for rows.Next() {
		var (
			s string
			v *int64
		)
		if err := rows.Scan(&s, &v); err != nil {
			return h, nil, fmt.Errorf("versions: %w", err)
		}
		if v != nil {
			versions[s] = uint64(*v)
		}
	}
	if err := rows.Err(); err != nil {
		return h, nil, fmt.Errorf("versions: %w", err)
	}
	return h, versions, nil
}

// pgTx is a transaction opened by hand on one pooled connection, so that
// BEGIN and COMMIT can share a pipeline with the statements around them.
type pgTx struct {
	conn *pgxpool.Conn // nil once finished
}

func (t *pgTx) Commit(ctx context.Context, recs []eventstore.Record) error {
	n := len(recs)
	var (
		pos, ver                             = make([]int64, n), make([]int64, n)
		stream, id, typ, data, meta, prev, h = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		at                                   = make([]time.Time, n)
	)
	for i, r := range recs {
		pos[i], ver[i] = int64(r.Position), int64(r.Version)
		stream[i], id[i], typ[i] = r.Stream, r.ID, r.Type
		at[i] = r.RecordedAt
		data[i], meta[i] = string(r.Data), string(r.Metadata)
		prev[i], h[i] = r.PrevHash, r.Hash
	}
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO events (position, stream, version, id, type, recorded_at, data, metadata, prev_hash, hash)
		SELECT p, s, v, i::uuid, ty, a, d::json, m::json, ph, hh
		FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::timestamptz[], $7::text[], $8::text[], $9::text[], $10::text[])
		AS x(p, s, v, i, ty, a, d, m, ph, hh)`,
		pos, stream, ver, id, typ, at, data, meta, prev, h)
	b.Queue(`SELECT pg_notify($1, $2)`, notifyChannel, strconv.FormatInt(pos[n-1], 10))
	b.Queue(`COMMIT`)
	if err := t.conn.SendBatch(ctx, b).Close(); err != nil {
		// A failed statement leaves the transaction aborted (or, if COMMIT
		// itself failed, finished); ROLLBACK settles both.
		return errors.Join(fmt.Errorf("postgres: commit: %w", err), t.Rollback(ctx))
	}
	t.release()
	return nil
}

func (t *pgTx) Rollback(ctx context.Context) error {
	if t.conn == nil {
		return nil
	}
	if _, err := t.conn.Exec(ctx, `ROLLBACK`); err != nil {
		// The connection's state is unknown: never hand it back to the pool.
		_ = t.conn.Conn().Close(ctx)
		t.release()
		return fmt.Errorf("postgres: rollback: %w", err)
	}
	t.release()
	return nil
}

func (t *pgTx) release() {
	t.conn.Release()
	t.conn = nil
}

// Import implements eventstore.Importer for ledger copies.
func (s *Store) Import(ctx context.Context, recs []eventstore.Record) error {
	if err := groupcommit.Import(ctx, s.backend(), recs); err != nil {
		return err
	}
	s.sig.Notify()
	return nil
}

func (s *Store) backend() backend { return backend{pool: s.pool} }
