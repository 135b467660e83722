package projections

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/authledger/authledger/eventstore"
)

// Errors of the runner.
var (
	ErrUnknownProjection = errors.New("projections: unknown projection")
	ErrDuplicate         = errors.New("projections: projection registered twice")
	ErrStarted           = errors.New("projections: runner already started")
	ErrNotRebuildable    = errors.New("projections: memory projections rebuild at every start")
	ErrStopped           = errors.New("projections: projection stopped")
	ErrBadName           = errors.New("projections: name needs a version suffix like \".v1\"")
)

// Config configures a Runner. Zero durations take the defaults.
type Config struct {
	// Store is the ledger to fold.
	Store eventstore.Store
	// DB is the read-model database (projection_state and SQL read models).
	DB *DB
	// Registerer receives the projection metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Instance names this process in projection_state.owner; default
	// hostname-pid-random.
	Instance string
	// MaxRetries bounds the retries of a failing Apply before the
	// projection stops at that event (default 3).
	MaxRetries int
	// RetryInterval is the first backoff between retries (default 50ms,
	// doubling up to 1s for a logic error, up to MaxBackoff for a storage
	// fault).
	RetryInterval time.Duration
	// MaxBackoff caps the backoff between the retries of a storage fault
	// (IsTransient: a lost connection, a full disk, a busy lock), which
	// never poisons: the projection reports retrying until the fault
	// passes (default 5s).
	MaxBackoff time.Duration
	// LockRetry is how often a standby instance tries to take a
	// projection's lock (default 1s), which bounds fail-over time.
	LockRetry time.Duration
	// Heartbeat is how often owners refresh projection_state, pick up
	// rebuild/resume requests and update metrics (default 1s).
	Heartbeat time.Duration
	// RebuildBatch is how many ledger records one rebuild transaction
	// covers (default 2000).
	RebuildBatch int
	// Now defaults to time.Now.
	Now func() time.Time
	// FeedWindow is how many recent ledger records the shared feed keeps
	// for projections a little behind it (default 8192); one further
	// behind reads the ledger on its own until it is back in the window.
	FeedWindow int
}

// Validate names every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("projections: Config.Store is required"))
	}
	if c.DB == nil {
		errs = append(errs, errors.New("projections: Config.DB is required"))
	}
	if c.MaxRetries < 0 {
		errs = append(errs, errors.New("projections: Config.MaxRetries must not be negative"))
	}
	return errors.Join(errs...)
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Instance == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = rand.Read(b[:])
		c.Instance = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = 3
	}
	if c.RetryInterval == 0 {
		c.RetryInterval = 50 * time.Millisecond
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 5 * time.Second
	}
	if c.LockRetry == 0 {
		c.LockRetry = time.Second
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = time.Second
	}
	if c.RebuildBatch == 0 {
		c.RebuildBatch = 2000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Runner runs the registered projections. Register them, then Start; Start
// blocks until its context ends.
type Runner struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	state   stateStore
	hub     *hub // the one ledger subscription every projection's feed shares

	mu      sync.Mutex
	workers map[string]*worker
	started bool
}

// New returns a Runner; nothing runs until Start.
func New(cfg Config) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	r := &Runner{cfg: cfg, log: cfg.Logger, metrics: m, state: stateStore{db: cfg.DB, now: cfg.Now}, workers: map[string]*worker{}}
	r.hub = newHub(cfg.Store, cfg.FeedWindow, cfg.LockRetry, func(msg string, args ...any) { cfg.Logger.Warn(msg, args...) })
	return r, nil
}

// Register adds a projection: an SQLProjection or a MemoryProjection. It
// must be called before Start.
func (r *Runner) Register(p Projection) error {
	name := p.Name()
	if !hasVersionSuffix(name) {
		return fmt.Errorf("%w: %q", ErrBadName, name)
	}
	var k kind
	switch p.(type) {
	case SQLProjection:
		k = kindSQL
	case MemoryProjection:
		k = kindMemory
	default:
		return fmt.Errorf("projections: %s implements neither SQLProjection nor MemoryProjection", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return ErrStarted
	}
	if _, ok := r.workers[name]; ok {
		return fmt.Errorf("%w: %s", ErrDuplicate, name)
	}
	r.workers[name] = newWorker(r, p, k)
	return nil
}

// DB is the read-model database, for the readers of SQL projections.
func (r *Runner) DB() *DB { return r.cfg.DB }

// Names lists the registered projections in order.
func (r *Runner) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.workers))
	for n := range r.workers {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (r *Runner) lookup(name string) (*worker, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	w, ok := r.workers[name]
	return w, ok
}

func (r *Runner) worker(name string) (*worker, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	w, ok := r.workers[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownProjection, name)
	}
	return w, nil
}

// Start runs every projection until ctx ends: memory projections on this
// instance unconditionally, the others whenever this instance holds their
// lock. It returns nil when ctx ends.
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	if r.started {
		r.mu.Unlock()
		return ErrStarted
	}
	r.started = true
	ws := make([]*worker, 0, len(r.workers))
	for _, w := range r.workers {
		ws = append(ws, w)
	}
	r.mu.Unlock()

	fromStart := false
	for _, w := range ws {
		fromStart = fromStart || w.kind == kindMemory
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.hub.run(ctx, fromStart)
	}()
	for _, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.loop(ctx)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.metricsLoop(ctx, ws)
	}()
	wg.Wait()
	return nil
}

// WaitFor blocks until the projection's checkpoint reaches position or ctx
// ends (read-your-writes after an append). It fails fast when the
// projection is stopped at or before position.
func (r *Runner) WaitFor(ctx context.Context, name string, position uint64) error {
	w, err := r.worker(name)
	if err != nil {
		return err
	}
	return w.waitFor(ctx, position)
}

// Ready reports an error while a projection is stopped at a poisoned event
// or retrying a storage fault (on this instance or, from projection_state,
// on the instance that runs it: the state `projections status` shows) or a memory projection has not caught up with the ledger head it saw
// at start. It is meant for /readyz.
func (r *Runner) Ready(ctx context.Context) error {
	r.mu.Lock()
	ws := make([]*worker, 0, len(r.workers))
	for _, w := range r.workers {
		ws = append(ws, w)
	}
	r.mu.Unlock()
	sort.Slice(ws, func(i, j int) bool { return ws[i].name < ws[j].name })
	var errs []error
	for _, w := range ws {
		if err := w.ready(); err != nil {
			errs = append(errs, err)
		}
	}
	// A projection another instance runs is stale here too when it is
	// stopped there: report it from projection_state.
	stopped, err := r.state.stopped(ctx)
	if err != nil {
		errs = append(errs, err)
	}
	for _, s := range stopped {
		if w, ok := r.lookup(s.name); ok && !w.owned.Load() && w.kind != kindMemory {
			errs = append(errs, fmt.Errorf("%s %s%s on another instance: %s", s.name, s.state, atPosition(s.pos), s.err))
		}
	}
	return errors.Join(errs...)
}

// Resume asks the projection to retry the event it stopped at. The owner
// instance picks the request up from projection_state within a heartbeat.
func (r *Runner) Resume(ctx context.Context, name string) error {
	w, err := r.worker(name)
	if err != nil {
		return err
	}
	if w.kind == kindMemory || w.owned.Load() {
		// This instance runs it: resume now rather than at the next
		// heartbeat. A memory projection has no owner elsewhere.
		w.resume.Notify()
		if w.kind == kindMemory {
			return nil
		}
	}
	if err := w.ensureRow(ctx); err != nil {
		return err
	}
	return r.state.requestResume(ctx, name)
}

// RequestRebuild records a rebuild request that the instance owning the
// projection performs (see Rebuild for doing it in this process).
func (r *Runner) RequestRebuild(ctx context.Context, name string) error {
	w, err := r.worker(name)
	if err != nil {
		return err
	}
	if w.kind == kindMemory {
		return fmt.Errorf("%w: %s", ErrNotRebuildable, name)
	}
	if err := w.ensureRow(ctx); err != nil {
		return err
	}
	return r.state.requestRebuild(ctx, name)
}

func hasVersionSuffix(name string) bool {
	for i := len(name) - 1; i > 0; i-- {
		c := name[i]
		if c >= '0' && c <= '9' {
			continue
		}
		return c == 'v' && i < len(name)-1 && i >= 2 && name[i-1] == '.'
	}
	return false
}

// newRouter builds the worker's Watermill router, once for its lifetime:
// the feed subscriber, then Poison (outermost: records the stop), the
// storage-fault retry (unbounded, capped backoff, state retrying), Retry
// (bounded backoff for every other error) and Recoverer (a panic is an
// error, retried then poisoned).
func (w *worker) newRouter(sub message.Subscriber, onPoison func(msg *message.Message, err error)) (*message.Router, error) {
	logger := watermill.NewSlogLoggerWithLevelMapping(w.r.log.With("projection", w.name), map[slog.Level]slog.Level{
		slog.LevelInfo: slog.LevelDebug,
	})
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, logger)
	if err != nil {
		return nil, err
	}
	h := router.AddConsumerHandler(w.name, w.name, sub, w.handle)
	h.AddMiddleware(
		poison(onPoison),
		w.retryTransient,
		middleware.Retry{
			MaxRetries:      w.r.cfg.MaxRetries,
			InitialInterval: w.r.cfg.RetryInterval,
			MaxInterval:     time.Second,
			Multiplier:      2,
			Logger:          logger,
			ShouldRetry: func(p middleware.RetryParams) bool {
				// A storage fault goes straight to retryTransient.
				return !errors.Is(p.Err, context.Canceled) && !IsTransient(p.Err)
			},
		}.Middleware,
		middleware.Recoverer,
	)
	return router, nil
}

// retryTransient retries a storage fault (IsTransient) until it passes or
// the run ends, backing off from RetryInterval up to MaxBackoff and
// reporting the projection retrying at the event meanwhile. Any other
// error goes on to poison.
func (w *worker) retryTransient(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		wait := w.r.cfg.RetryInterval
		for {
			out, err := h(msg)
			if err == nil || !IsTransient(err) {
				return out, err
			}
			ctx := msg.Context()
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			w.retrying(msg, err)
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return out, ctx.Err()
			case <-t.C:
			}
			wait = min(2*wait, w.r.cfg.MaxBackoff)
		}
	}
}

// poison replaces Watermill's PoisonQueue, which acks the poisoned message
// and moves on: here the failure is recorded and the error returned, so
// the message is nacked and the feed holds it until a resume.
func poison(onPoison func(msg *message.Message, err error)) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			out, err := h(msg)
			if err != nil && !errors.Is(err, context.Canceled) {
				onPoison(msg, err)
			}
			return out, err
		}
	}
}
