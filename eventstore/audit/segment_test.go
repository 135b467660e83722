package audit_test

import (
	"bufio"
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/authledger/authledger/eventstore/audit"
)

// readPartial exports with f, then reads the header back as verify does.
func readPartial(t *testing.T, b []byte) (*audit.Header, *bufio.Reader) {
	t.Helper()
	br := bufio.NewReader(bytes.NewReader(b))
	h, err := audit.ReadHeader(br)
	if err != nil || h == nil {
		t.Fatalf("header: %v %v", h, err)
	}
	return h, br
}

func TestASegmentVerifiesOnItsOwn(t *testing.T) {
	t.Parallel()
	recs := sealed(t, 40)
	store := &sliceStore{recs: recs}
	var buf bytes.Buffer
	info, err := audit.ExportSegment(context.Background(), &buf, store, 11, 30)
	if err != nil {
		t.Fatal(err)
	}
	if info.From != 11 || info.To != 30 || info.PrevHash != recs[9].Hash {
		t.Fatalf("header %+v", info)
	}
	seg := buf.Bytes()
	verify := func(b []byte, opt audit.Options) error {
		h, br := readPartial(t, b)
		if h.Segment == nil {
			t.Fatal("no segment header")
		}
		_, err := audit.VerifySegment(br, *h.Segment, opt)
		return err
	}
	if err := verify(seg, audit.Options{}); err != nil {
		t.Fatalf("the segment: %v", err)
	}
	lines := bytes.SplitAfter(bytes.TrimSuffix(seg, []byte("\n")), []byte("\n"))

	t.Run("an altered envelope fails at its position", func(t *testing.T) {
		bad := bytes.Clone(seg)
		i := bytes.Index(bad, []byte(`"n":`))
		bad[i+4] ^= 1
		wantBreak(t, verify(bad, audit.Options{}), 11)
	})
	t.Run("a header that states another prev_hash fails at the first envelope", func(t *testing.T) {
		bad := bytes.Replace(seg, []byte(recs[9].Hash), []byte(recs[8].Hash), 1)
		wantBreak(t, verify(bad, audit.Options{}), 11)
	})
	t.Run("a segment cut short of its header's end fails", func(t *testing.T) {
		err := verify(bytes.Join(lines[:len(lines)-2], nil), audit.Options{})
		if err == nil || !strings.Contains(err.Error(), "header says 30") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("a missing envelope fails", func(t *testing.T) {
		holed := append(append([][]byte{}, lines[:5]...), lines[6:]...)
		wantBreak(t, verify(bytes.Join(holed, nil), audit.Options{}), 15)
	})
	key := newKey(t, "k1")
	t.Run("a checkpoint inside the segment proves it up to there", func(t *testing.T) {
		cp, err := audit.ParseCheckpoint(key.sign(t, claims(25, recs[24].Hash)), key.jwks())
		if err != nil {
			t.Fatal(err)
		}
		if err := verify(seg, audit.Options{Checkpoint: &cp}); err != nil {
			t.Fatal(err)
		}
		other, _ := audit.ParseCheckpoint(key.sign(t, claims(25, recs[23].Hash)), key.jwks())
		wantBreak(t, verify(seg, audit.Options{Checkpoint: &other}), 25)
	})
	t.Run("a checkpoint before the segment proves nothing and is refused", func(t *testing.T) {
		cp, _ := audit.ParseCheckpoint(key.sign(t, claims(5, recs[4].Hash)), key.jwks())
		if err := verify(seg, audit.Options{Checkpoint: &cp}); err == nil {
			t.Fatal("accepted")
		}
	})
	t.Run("a whole export has no header and is read as before", func(t *testing.T) {
		br := bufio.NewReader(bytes.NewReader(join(exportOf(t, recs))))
		h, err := audit.ReadHeader(br)
		if err != nil || h != nil {
			t.Fatalf("%v %v", h, err)
		}
		if _, err := audit.VerifyExport(br, audit.Options{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a bad range is refused", func(t *testing.T) {
		for _, r := range [][2]uint64{{0, 3}, {5, 4}, {39, 41}} {
			if _, err := audit.ExportSegment(context.Background(), &bytes.Buffer{}, store, r[0], r[1]); err == nil {
				t.Errorf("%v accepted", r)
			}
		}
	})
}

func TestSubjectEnvelopesEachVerifyAgainstTheirHash(t *testing.T) {
	t.Parallel()
	recs := sealed(t, 30)
	store := &sliceStore{recs: recs}
	var buf bytes.Buffer
	positions := []uint64{2, 3, 4, 9, 17, 30}
	if err := audit.ExportEnvelopes(context.Background(), &buf, store, "u-1", positions); err != nil {
		t.Fatal(err)
	}
	h, br := readPartial(t, buf.Bytes())
	if h.Envelopes == nil || h.Envelopes.Count != len(positions) || h.Envelopes.Subject != "u-1" {
		t.Fatalf("header %+v", h)
	}
	if n, err := audit.VerifyEnvelopes(br, *h.Envelopes); err != nil || n != len(positions) {
		t.Fatalf("%d %v", n, err)
	}
	bad := bytes.Clone(buf.Bytes())
	i := bytes.LastIndex(bad, []byte(`"n":`))
	bad[i+4] ^= 1
	h, br = readPartial(t, bad)
	if _, err := audit.VerifyEnvelopes(br, *h.Envelopes); err == nil {
		t.Fatal("an altered envelope verified")
	}
	dropped := bytes.SplitAfter(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n"))
	h, br = readPartial(t, bytes.Join(dropped[:len(dropped)-1], nil))
	if _, err := audit.VerifyEnvelopes(br, *h.Envelopes); err == nil {
		t.Fatal("a file short of its announced count verified")
	}
}

// FuzzPartialExport feeds untrusted files to the header reader and the
// segment and envelope verifiers: they never panic, and a header they
// accept has a sane range.
func FuzzPartialExport(f *testing.F) {
	recs := sealed(f, 6)
	var seg, env bytes.Buffer
	if _, err := audit.ExportSegment(context.Background(), &seg, &sliceStore{recs: recs}, 2, 5); err != nil {
		f.Fatal(err)
	}
	if err := audit.ExportEnvelopes(context.Background(), &env, &sliceStore{recs: recs}, "s", []uint64{1, 3}); err != nil {
		f.Fatal(err)
	}
	f.Add(seg.Bytes())
	f.Add(env.Bytes())
	f.Add([]byte(`{"segment":{"from":1,"to":0,"prev_hash":""}}` + "\n"))
	f.Add([]byte(`{"envelopes":{"count":-1}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		br := bufio.NewReader(bytes.NewReader(b))
		h, err := audit.ReadHeader(br)
		if err != nil || h == nil {
			return
		}
		if s := h.Segment; s != nil {
			if s.From < 1 || s.To < s.From {
				t.Fatalf("accepted header %+v", s)
			}
			_, _ = audit.VerifySegment(br, *s, audit.Options{})
			return
		}
		_, _ = audit.VerifyEnvelopes(br, *h.Envelopes)
	})
}
