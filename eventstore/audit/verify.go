package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/authledger/authledger/eventstore"
)

// DefaultPageSize is how many records Verify and Export read per ReadAll.
const DefaultPageSize = 1000

// Options tunes verification. The zero value verifies the whole chain.
type Options struct {
	// Checkpoint, when set, must be a prefix of the ledger: the event at its
	// position carries its hash (the chain up to there being valid), and the
	// ledger does not end before it.
	Checkpoint *Checkpoint
	// PageSize is the ReadAll page size of Verify (default DefaultPageSize).
	PageSize int
	// Keys, when set, collects the signing keys the ledger publishes (from
	// events that verified), to check a checkpoint without a JWKS file.
	Keys *LedgerKeys
	// Signed is a checkpoint read but not yet verified (ReadCheckpoint),
	// to be verified with the keys the ledger itself publishes (Keys,
	// collected in the same pass). Its signature, signing key and key
	// revocations are checked first, once the whole ledger has been read;
	// only a checkpoint that verifies is then compared with the ledger as
	// Checkpoint would be. One that does not is refused with an error
	// matching ErrBadCheckpoint (not an *Error): a checkpoint nobody can
	// vouch for never yields "rewritten" or "truncated". Checkpoint must be
	// nil when Signed is set.
	Signed *SignedCheckpoint
}

// Verifier checks records fed in ledger order against format v1. It keeps
// only the previous hash and one version per stream, so memory stays flat
// however long the ledger is. The first problem is reported as *Error (or,
// for an Options.Signed checkpoint that does not verify, as an error
// matching ErrBadCheckpoint) and every later call returns that same error.
type Verifier struct {
	next       uint64 // position the next record must carry
	prev       string // hash the next record must link to
	lastAt     time.Time
	versions   map[string]uint64
	checkpoint *Checkpoint
	keys       *LedgerKeys
	signed     *SignedCheckpoint // not yet verified; see Options.Signed
	signedSeen bool              // the ledger reached signed's position
	signedAt   string            // the hash of the event there
	err        error
	// segment: a chain segment that starts after position 1, so a stream
	// first seen in it may start at any version.
	segment bool
	hashers []hasher // one per worker of AddBatch; hashers[0] serves Add
	sums    []hashed
}

// hashed is a record's recomputed hash, or why it could not be computed.
type hashed struct {
	sum string
	err error
}

// NewVerifier returns a Verifier expecting position 1 and the genesis hash.
func NewVerifier(opt Options) *Verifier {
	v := &Verifier{next: 1, prev: eventstore.GenesisHash, versions: map[string]uint64{}, checkpoint: opt.Checkpoint, keys: opt.Keys, hashers: make([]hasher, 1)}
	if opt.Signed != nil {
		v.signed, v.checkpoint = opt.Signed, nil
		if v.keys == nil {
			v.keys = &LedgerKeys{}
		}
	}
	return v
}

// Add checks r as the next event of the ledger.
func (v *Verifier) Add(r eventstore.Record) error {
	if v.err != nil {
		return v.err
	}
	sum, err := v.hashers[0].hash(r)
	return v.add(r, hashed{sum, err})
}

// parallelMin is the batch size below which AddBatch hashes on one core;
// smaller batches do not repay the goroutines.
const parallelMin = 64

// AddBatch checks recs as the next events, in order, exactly as repeated
// Add would, but recomputes their hashes on every core first: hashing is
// the cost of verification and does not depend on the chain.
func (v *Verifier) AddBatch(recs []eventstore.Record) error {
	if v.err != nil {
		return v.err
	}
	workers := min(runtime.GOMAXPROCS(0), (len(recs)+parallelMin-1)/parallelMin)
	if workers <= 1 {
		for _, r := range recs {
			if err := v.Add(r); err != nil {
				return err
			}
		}
		return nil
	}
	for len(v.hashers) < workers {
		v.hashers = append(v.hashers, hasher{})
	}
	v.sums = slices.Grow(v.sums[:0], len(recs))[:len(recs)]
	chunk := (len(recs) + workers - 1) / workers
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*chunk, min((w+1)*chunk, len(recs))
		h := &v.hashers[w]
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				sum, err := h.hash(recs[i])
				v.sums[i] = hashed{sum, err}
			}
		})
	}
	wg.Wait()
	for i, r := range recs {
		if err := v.add(r, v.sums[i]); err != nil {
			return err
		}
	}
	return nil
}

func (v *Verifier) add(r eventstore.Record, h hashed) error {
	if v.err != nil {
		return v.err
	}
	if reason := v.check(r, h); reason != "" {
		return v.broken(&Error{Position: v.next, Reason: reason})
	}
	v.versions[r.Stream] = r.Version
	if v.keys != nil {
		v.keys.observe(r)
	}
	if v.signed != nil && r.Position == v.signed.Claims.Position {
		v.signedSeen, v.signedAt = true, r.Hash
	}
	v.prev = r.Hash
	v.lastAt = r.RecordedAt
	v.next++
	return nil
}

// fail records a problem found outside Add (a malformed export line, a read
// error) at the position the verifier had reached, so it stays sticky.
func (v *Verifier) fail(reason string, cause error) error {
	if v.err == nil {
		return v.broken(&Error{Position: v.next, Reason: reason, Cause: cause})
	}
	return v.err
}

// broken records the chain break e as the verifier's error. When a signed
// checkpoint not yet verified names an earlier position whose hash the
// ledger contradicts, and it verifies with the keys read so far, that
// earlier break is the one reported; otherwise e is, as the ledger proves
// it whatever the checkpoint is worth.
func (v *Verifier) broken(e *Error) error {
	if v.signed != nil && v.signedSeen && v.signedAt != v.signed.Claims.Hash {
		var earlier *Error
		if err := v.verifySigned(); errors.As(err, &earlier) {
			v.err = earlier
			return earlier
		}
	}
	v.err = e
	return e
}

// verifySigned checks v.signed's signature and key with the keys collected
// so far and, only once it verifies, compares it with the event the ledger
// holds at its position. A checkpoint that does not verify yields its
// ErrBadCheckpoint error; one the ledger contradicts, an *Error.
func (v *Verifier) verifySigned() error {
	cp, err := v.keys.Verify(v.signed)
	if err != nil {
		return err
	}
	v.checkpoint, v.signed = &cp, nil
	if v.signedSeen && v.signedAt != cp.Hash {
		return &Error{Position: cp.Position, Reason: rewritten(v.signedAt, cp.Hash)}
	}
	return nil
}

func rewritten(got, signed string) string {
	return fmt.Sprintf("hash %s differs from the signed checkpoint's %s: the ledger was rewritten up to here", short(got), short(signed))
}

// check returns what is wrong with r as the next event, or "".
func (v *Verifier) check(r eventstore.Record, h hashed) string {
	if r.Position != v.next {
		return fmt.Sprintf("found position %d where position %d belongs: an event is missing, inserted or out of order", r.Position, v.next)
	}
	if r.PrevHash != v.prev {
		return fmt.Sprintf("prev_hash %s does not link to the previous event's hash %s", short(r.PrevHash), short(v.prev))
	}
	if reason := checkName("stream", r.Stream); reason != "" {
		return reason
	}
	if reason := checkName("type", r.Type); reason != "" {
		return reason
	}
	if seen, ok := v.versions[r.Stream]; v.segment && !ok {
		if r.Version < 1 {
			return fmt.Sprintf("stream %q: version %d, want at least 1", r.Stream, r.Version)
		}
	} else if want := seen + 1; r.Version != want {
		return fmt.Sprintf("stream %q: version %d, want %d", r.Stream, r.Version, want)
	}
	if u, err := uuid.Parse(r.ID); err != nil || u.String() != r.ID {
		return fmt.Sprintf("id %q is not a lower-case UUID", r.ID)
	}
	if !r.RecordedAt.Equal(r.RecordedAt.Truncate(time.Microsecond)) {
		return "recorded_at has sub-microsecond digits, which the hash cannot cover"
	}
	if y := r.RecordedAt.UTC().Year(); y < 1 || y > 9999 {
		return "recorded_at is outside years 0001-9999"
	}
	if !isObject(r.Data) {
		return "data is not a JSON object"
	}
	if len(r.Metadata) > 0 && !isObject(r.Metadata) {
		return "metadata is not a JSON object"
	}
	if !isHash(r.Hash) {
		return fmt.Sprintf("hash %q is not 64 lower-case hex digits", short(r.Hash))
	}
	if h.err != nil {
		return fmt.Sprintf("cannot hash the event: %v", h.err)
	}
	if h.sum != r.Hash {
		return fmt.Sprintf("hash mismatch: stored %s, recomputed %s (the event was altered)", short(r.Hash), short(h.sum))
	}
	if cp := v.checkpoint; cp != nil && cp.Position == r.Position && cp.Hash != r.Hash {
		return rewritten(r.Hash, cp.Hash)
	}
	return ""
}

// Finish ends the stream of records and returns the verified head. With a
// checkpoint, a ledger that ends before the checkpoint's position fails.
func (v *Verifier) Finish() (eventstore.Head, error) {
	if v.err != nil {
		return eventstore.Head{}, v.err
	}
	head := eventstore.Head{Position: v.next - 1, Hash: v.prev, RecordedAt: v.lastAt}
	if v.signed != nil {
		// The signature first: the claims are compared with the ledger
		// only once a key of the ledger vouches for them.
		if err := v.verifySigned(); err != nil {
			v.err = err
			return eventstore.Head{}, err
		}
	}
	if cp := v.checkpoint; cp != nil {
		switch {
		case cp.Position == 0 && cp.Hash != eventstore.GenesisHash:
			v.err = &Error{Position: 0, Reason: "the checkpoint signs position 0 with a hash other than the genesis hash"}
		case head.Position < cp.Position:
			v.err = &Error{Position: v.next, Reason: fmt.Sprintf("missing: the ledger ends at position %d but the checkpoint signed position %d (truncated)", head.Position, cp.Position)}
		}
		if v.err != nil {
			return eventstore.Head{}, v.err
		}
	}
	return head, nil
}

// Verify streams the whole ledger from store through a Verifier, one
// ReadAll page at a time, and returns the verified head. The next page is
// read while the current one is hashed, so database reads and hashing
// overlap. Events appended while it runs are verified too, until a page
// comes back empty.
func Verify(ctx context.Context, store eventstore.Store, opt Options) (eventstore.Head, error) {
	size := opt.PageSize
	if size <= 0 {
		size = DefaultPageSize
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type page struct {
		recs []eventstore.Record
		err  error
	}
	// One page in flight beside the one being verified keeps memory at two
	// pages however long the ledger is.
	pages := make(chan page, 1)
	go func() {
		defer close(pages)
		var after uint64
		for {
			recs, err := store.ReadAll(ctx, after, size)
			if err != nil {
				err = fmt.Errorf("audit: read ledger after position %d: %w", after, err)
			}
			select {
			case pages <- page{recs, err}:
			case <-ctx.Done():
				return
			}
			if err != nil || len(recs) == 0 {
				return
			}
			after = recs[len(recs)-1].Position
		}
	}()
	v := NewVerifier(opt)
	for p := range pages {
		if p.err != nil {
			return eventstore.Head{}, p.err
		}
		if len(p.recs) == 0 {
			return v.Finish()
		}
		if err := v.AddBatch(p.recs); err != nil {
			return eventstore.Head{}, err
		}
	}
	return eventstore.Head{}, ctx.Err()
}

func checkName(field, s string) string {
	switch {
	case s == "":
		return field + " is empty"
	case strings.ContainsAny(s, "\n\r"):
		return fmt.Sprintf("%s %q contains a line break", field, s)
	case !utf8.ValidString(s):
		return field + " is not valid UTF-8"
	}
	return ""
}

func isObject(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

func isHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// short keeps messages readable; 16 hex digits still identify a hash.
func short(h string) string {
	if len(h) > 16 {
		return h[:16] + "…"
	}
	return h
}
