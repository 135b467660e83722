// Package sqlite is the embedded ledger adapter: one SQLite file in WAL mode
// through modernc.org/sqlite (pure Go, no cgo). Appends go through a group
// commit writer; the feed learns of commits from an in-process signal, and of
// commits by other processes (CLI commands next to a running server) from
// the feed's short safety wake-up.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

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
	// BusyTimeout is how long a transaction waits for another process's
	// write lock (default 5s).
	BusyTimeout time.Duration
	// FeedWake bounds how long an idle feed waits before looking for
	// appends made by another process, which the in-process signal cannot
	// see (default 500ms).
	FeedWake time.Duration
	// Now stamps recorded_at; nil means time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 5 * time.Second
	}
	if o.FeedWake <= 0 {
		o.FeedWake = 500 * time.Millisecond
	}
	return o
}

// Store is the SQLite eventstore.Store.
type Store struct {
	w   *sql.DB // one connection: the group-commit writer
	r   *sql.DB // readers; WAL lets them run beside the writer
	gc  *groupcommit.Writer
	sig *eventstore.Signal
	opt Options
	// path is the ledger file, for CheckWritable.
	path string

	closeOnce sync.Once
	closeErr  error
}

var _ eventstore.Store = (*Store)(nil)

// Open opens (creating if needed) the ledger file at path and applies any
// pending schema migrations.
func Open(ctx context.Context, path string, opt Options) (*Store, error) {
	opt = opt.withDefaults()
	if path == "" {
		return nil, errors.New("sqlite: empty ledger path")
	}
	// SQLite creates the file but not its directory; a fresh data dir
	// (make run on a new clone) should just work. 0700: the ledger is
	// not for other local users.
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: ledger directory: %w", err)
	}
	// Create the file 0600 ourselves: SQLite would use the umask (often
	// 0644), and an existing data dir may not be 0700. SQLite gives its
	// -wal and -shm files the database file's mode.
	if err := createPrivate(path); err != nil {
		return nil, fmt.Errorf("sqlite: ledger file: %w", err)
	}
	w, err := sql.Open("sqlite", dsn(path, opt, true))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	if err := applyMigrations(ctx, w); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn(path, opt, false))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	s := &Store{w: w, r: r, sig: eventstore.NewSignal(), opt: opt, path: path}
	s.gc = groupcommit.New(backend{db: w}, groupcommit.Options{
		MaxBatch: opt.MaxBatch, FlushWindow: opt.FlushWindow, Now: opt.Now, Committed: s.sig.Notify, Batched: opt.OnBatch,
	})
	return s, nil
}

func dsn(path string, opt Options, writer bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", opt.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	// FULL: a committed append survives power loss; group commit pays the
	// fsync once per batch rather than once per request.
	q.Add("_pragma", "synchronous(FULL)")
	if writer {
		// Take the write lock at BEGIN so the head read inside the
		// transaction cannot go stale under another process.
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	// A file: URI: escape what would end the path or start an escape.
	esc := strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path)
	return "file:" + esc + "?" + q.Encode()
}

func applyMigrations(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	defer tx.Rollback()
	if err := migrate.Run(ctx, migrate.SQL(tx), migrate.Table{
		Component: "sqlite: ledger",
		Create:    `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL) STRICT`,
		Current:   `SELECT coalesce(max(version), 0) FROM schema_migrations`,
		Record:    `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, '` + eventstore.FormatTime(time.Now()) + `')`,
	}, migrations); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	return nil
}

// Append implements eventstore.Store.
func (s *Store) Append(ctx context.Context, appends ...eventstore.StreamAppend) ([]eventstore.Record, error) {
	recs, err := s.gc.Append(ctx, appends)
	return recs, classify(err)
}

const columns = `position, stream, version, id, type, recorded_at, data, metadata, prev_hash, hash`

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string) ([]eventstore.Record, error) {
	recs, err := s.query(ctx, `SELECT `+columns+` FROM events WHERE stream = ? ORDER BY version`, stream)
	return recs, classify(err)
}

// ReadAll implements eventstore.Store.
func (s *Store) ReadAll(ctx context.Context, after uint64, limit int) ([]eventstore.Record, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	recs, err := s.query(ctx, `SELECT `+columns+` FROM events WHERE position > ? ORDER BY position LIMIT ?`, int64(after), limit)
	return recs, classify(err)
}

// Head implements eventstore.Store.
func (s *Store) Head(ctx context.Context) (eventstore.Head, error) {
	h, err := head(ctx, s.r)
	return h, classify(err)
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func head(ctx context.Context, q queryer) (eventstore.Head, error) {
	var (
		pos      int64
		hash, at string
	)
	err := q.QueryRowContext(ctx, `SELECT position, hash, recorded_at FROM events ORDER BY position DESC LIMIT 1`).Scan(&pos, &hash, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return eventstore.Head{Hash: eventstore.GenesisHash}, nil
	}
	if err != nil {
		return eventstore.Head{}, fmt.Errorf("sqlite: head: %w", err)
	}
	t, err := eventstore.ParseTime(at)
	if err != nil {
		return eventstore.Head{}, fmt.Errorf("sqlite: head: %w", err)
	}
	return eventstore.Head{Position: uint64(pos), Hash: hash, RecordedAt: t}, nil
}

// Subscribe implements eventstore.Store.
func (s *Store) Subscribe(ctx context.Context, after uint64, h eventstore.Handler) error {
	return eventstore.Follow(ctx, s.ReadAll, s.sig, s.opt.FeedWake, after, h)
}

// Close commits every queued append, then closes the file.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.gc.Close()
		s.closeErr = errors.Join(s.r.Close(), s.w.Close())
	})
	return s.closeErr
}

func (s *Store) query(ctx context.Context, q string, args ...any) ([]eventstore.Record, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read: %w", err)
	}
	defer rows.Close()
	var out []eventstore.Record
	for rows.Next() {
		var (
			r              eventstore.Record
			pos, ver       int64
			at, data, meta string
		)
		if err := rows.Scan(&pos, &r.Stream, &ver, &r.ID, &r.Type, &at, &data, &meta, &r.PrevHash, &r.Hash); err != nil {
			return nil, fmt.Errorf("sqlite: read: %w", err)
		}
		r.Position, r.Version = uint64(pos), uint64(ver)
		if r.RecordedAt, err = eventstore.ParseTime(at); err != nil {
			return nil, fmt.Errorf("sqlite: read position %d: %w", pos, err)
		}
		r.Data, r.Metadata = []byte(data), []byte(meta)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: read: %w", err)
	}
	return out, nil
}

// backend is the SQLite side of group commit.
type backend struct{ db *sql.DB }

func (b backend) Begin(ctx context.Context, streams []string) (groupcommit.Tx, eventstore.Head, map[string]uint64, error) {
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, eventstore.Head{}, nil, fmt.Errorf("sqlite: begin: %w", err)
	}
	t := sqlTx{tx}
	h, err := head(ctx, tx)
	if err != nil {
		_ = t.Rollback(ctx)
		return nil, eventstore.Head{}, nil, err
	}
	versions, err := t.versions(ctx, streams)
	if err != nil {
		_ = t.Rollback(ctx)
		return nil, eventstore.Head{}, nil, err
	}
	return t, h, versions, nil
}

type sqlTx struct{ tx *sql.Tx }

func (t sqlTx) versions(ctx context.Context, streams []string) (map[string]uint64, error) {
	st, err := t.tx.PrepareContext(ctx, `SELECT max(version) FROM events WHERE stream = ?`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: versions: %w", err)
	}
	defer st.Close()
	out := make(map[string]uint64, len(streams))
	for _, s := range streams {
		var v sql.NullInt64
		if err := st.QueryRowContext(ctx, s).Scan(&v); err != nil {
			return nil, fmt.Errorf("sqlite: versions: %w", err)
		}
		if v.Valid {
			out[s] = uint64(v.Int64)
		}
	}
	return out, nil
}

func (t sqlTx) Commit(ctx context.Context, recs []eventstore.Record) error {
	st, err := t.tx.PrepareContext(ctx, `INSERT INTO events (`+columns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("sqlite: insert: %w", err)
	}
	defer st.Close()
	for _, r := range recs {
		if _, err := st.ExecContext(ctx, int64(r.Position), r.Stream, int64(r.Version), r.ID, r.Type,
			eventstore.FormatTime(r.RecordedAt), string(r.Data), string(r.Metadata), r.PrevHash, r.Hash); err != nil {
			return fmt.Errorf("sqlite: insert position %d: %w", r.Position, err)
		}
	}
	if err := t.tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

func (t sqlTx) Rollback(context.Context) error {
	if err := t.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("sqlite: rollback: %w", err)
	}
	return nil
}

// createPrivate creates path with mode 0600 if it does not exist yet.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// Import implements eventstore.Importer for ledger copies.
func (s *Store) Import(ctx context.Context, recs []eventstore.Record) error {
	if err := groupcommit.Import(ctx, s.backend(), recs); err != nil {
		return err
	}
	s.sig.Notify()
	return nil
}

func (s *Store) backend() backend { return backend{db: s.w} }
