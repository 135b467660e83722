package commands_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/eventstore"
)

// hookStore is a ledger whose appends to and reads of family streams can be
// held or observed, to play a slow commit or a request cancelled mid-way.
// It reads and commits even if the caller's context has ended,
// as a commit already under way does (the lock was held, the client gave
// up, the server committed): only the handler can decide not to append.
type hookStore struct {
	eventstore.Store
	mu        sync.Mutex
	onAppend  func(ctx context.Context) // called before a family-stream append commits
	onReadFam func()                    // called when a family stream is read
}

func (s *hookStore) hooks() (func(context.Context), func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.onAppend, s.onReadFam
}

func (s *hookStore) Append(ctx context.Context, appends ...eventstore.StreamAppend) ([]eventstore.Record, error) {
	onAppend, _ := s.hooks()
	for _, a := range appends {
		if strings.HasPrefix(a.Stream, "family-") && onAppend != nil {
			onAppend(ctx)
			break
		}
	}
	return s.Store.Append(context.WithoutCancel(ctx), appends...)
}

func (s *hookStore) ReadStream(ctx context.Context, stream string) ([]eventstore.Record, error) {
	if _, onRead := s.hooks(); onRead != nil && strings.HasPrefix(stream, "family-") {
		onRead()
	}
	return s.Store.ReadStream(context.WithoutCancel(ctx), stream)
}

func head(t testing.TB, s eventstore.Store) uint64 {
	t.Helper()
	h, err := s.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h.Position
}

// Twenty clients presenting one token at once, spread over two instances on
// one ledger (a browser's parallel tabs behind a load balancer), all get the
// one successor with the default grace, and the family lives on.
func TestTwentyParallelRefreshesOnTwoInstancesShareOneSuccessorByDefault(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := newTokenFixture(t, nil, withGrace(refreshtoken.DefaultGrace))
	b := newTokenFixture(t, a.store, withCodec(a.codec), withGrace(refreshtoken.DefaultGrace))
	s := a.start(t, "login", "alice")
	const n = 20
	type result struct {
		pair commands.TokenPair
		err  error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		inst := a
		if i%2 == 1 {
			inst = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			p, err := inst.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: s.RefreshToken, ClientID: "login"}, meta)
			results[i] = result{p, err}
		}()
	}
	close(start)
	wg.Wait()
	successors := map[string]bool{}
	for i, r := range results {
		if r.err != nil {
			t.Errorf("presentation %d: %v", i, r.err)
			continue
		}
		successors[r.pair.RefreshToken] = true
	}
	got := countTypes(t, a.store, s.Family.Stream())
	if len(successors) != 1 || got[refreshtoken.TypeRotated] != 1 || got[refreshtoken.TypeReuseDetected] != 0 || got[refreshtoken.TypeRevoked] != 0 {
		t.Fatalf("%d distinct successors, family events %v: want one shared successor, one rotation, no revocation", len(successors), got)
	}
	// The shared successor works (once).
	var succ string
	for k := range successors {
		succ = k
	}
	if _, err := b.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: succ, ClientID: "login"}, meta); err != nil {
		t.Fatalf("the shared successor was refused: %v", err)
	}
	// The grace is bound to the family's client: another client replaying
	// the spent token gets invalid_grant and the family is untouched.
	if _, err := a.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: s.RefreshToken, ClientID: "other"}, meta); !isInvalidGrant(err) {
		t.Fatalf("another client's replay: %v, want invalid_grant", err)
	}
	if got := countTypes(t, a.store, s.Family.Stream()); got[refreshtoken.TypeRevoked] != 0 {
		t.Fatalf("another client's replay touched the family: %v", got)
	}
}

// The ledger held its lock while the client gave up; the server committed
// the rotation anyway. The client's retry of the same token must get the
// successor it missed, not be taken for reuse (which would log the user
// out).
func TestARetryAfterASlowCommitGetsTheSameSuccessor(t *testing.T) {
	t.Parallel()
	hs := &hookStore{}
	f := newTokenFixture(t, nil, withGrace(refreshtoken.DefaultGrace))
	hs.Store = f.store
	// The second instance (an empty family cache) goes through the slow store.
	g := newTokenFixture(t, hs, withCodec(f.codec), withGrace(refreshtoken.DefaultGrace))
	s := f.start(t, "login", "alice")

	entered := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	hs.mu.Lock()
	hs.onAppend = func(context.Context) {
		once.Do(func() {
			close(entered)
			<-release // the lock is held; the commit goes through afterwards
		})
	}
	hs.mu.Unlock()

	reqCtx, giveUp := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := g.tok.Refresh.Handle(reqCtx, commands.RefreshGrant{RefreshToken: s.RefreshToken, ClientID: "login"}, meta)
		done <- err
	}()
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the rotation never reached the ledger")
	}
	giveUp() // the client's timeout fires while the commit is under way
	g.clock.Add(5 * time.Second)
	close(release)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the slow request never returned")
	}
	if n := countTypes(t, f.store, s.Family.Stream())[refreshtoken.TypeRotated]; n != 1 {
		t.Fatalf("%d rotations committed, want the one the client gave up on", n)
	}

	// The client retries on the same instance.
	retry, err := g.tok.Refresh.Handle(context.Background(), commands.RefreshGrant{RefreshToken: s.RefreshToken, ClientID: "login"}, meta)
	if err != nil {
		t.Fatalf("the retry after a slow commit was refused (the user is logged out): %v", err)
	}
	if !retry.GraceReplay {
		t.Fatal("the retry minted a new successor instead of the committed one")
	}
	got := countTypes(t, f.store, s.Family.Stream())
	if got[refreshtoken.TypeRotated] != 1 || got[refreshtoken.TypeRevoked] != 0 || got[refreshtoken.TypeReuseDetected] != 0 {
		t.Fatalf("family events %v: want one rotation and no reuse", got)
	}
	if _, err := f.tok.Refresh.Handle(context.Background(), commands.RefreshGrant{RefreshToken: retry.RefreshToken, ClientID: "login"}, meta); err != nil {
		t.Fatalf("the successor handed to the retry does not work: %v", err)
	}
}

// A request whose context is cancelled before the rotation is appended
// commits nothing and says why.
func TestACancelledRefreshCommitsNothing(t *testing.T) {
	t.Parallel()
	t.Run("cancelled before it starts", func(t *testing.T) {
		t.Parallel()
		f := newTokenFixture(t, nil, withGrace(refreshtoken.DefaultGrace))
		hs := &hookStore{Store: f.store}
		g := newTokenFixture(t, hs, withCodec(f.codec), withGrace(refreshtoken.DefaultGrace))
		s := f.start(t, "login", "alice")
		before := head(t, f.store)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := g.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: s.RefreshToken, ClientID: "login"}, meta)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if after := head(t, f.store); after != before {
			t.Fatalf("a cancelled refresh appended %d events", after-before)
		}
		// The token is still the current one.
		if _, err := f.tok.Refresh.Handle(context.Background(), commands.RefreshGrant{RefreshToken: s.RefreshToken, ClientID: "login"}, meta); err != nil {
			t.Fatalf("the token a cancelled request presented no longer works: %v", err)
		}
	})
	t.Run("cancelled while the family loads", func(t *testing.T) {
		t.Parallel()
		f := newTokenFixture(t, nil, withGrace(refreshtoken.DefaultGrace))
		hs := &hookStore{Store: f.store}
		g := newTokenFixture(t, hs, withCodec(f.codec), withGrace(refreshtoken.DefaultGrace))
		s := f.start(t, "login", "alice")
		before := head(t, f.store)
		ctx, cancel := context.WithCancel(context.Background())
		hs.mu.Lock()
		hs.onReadFam = cancel
		hs.mu.Unlock()
		_, err := g.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: s.RefreshToken, ClientID: "login"}, meta)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if after := head(t, f.store); after != before {
			t.Fatalf("a refresh cancelled before its append committed %d events", after-before)
		}
	})
}
