package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/authledger/authledger/eventstore"
)

// A partial export starts with one header line that says what it holds, so
// verify knows to check it as a segment or as separate envelopes; a whole
// export has no header and must start at position 1 (docs/ledger-format.md,
// "Segments and subject exports").
//
//	{"segment":{"from":101,"to":200,"prev_hash":"…"}}
//	{"envelopes":{"subject":"u-7f3a91","count":12}}
type Header struct {
	Segment   *SegmentInfo   `json:"segment,omitempty"`
	Envelopes *EnvelopesInfo `json:"envelopes,omitempty"`
}

// SegmentInfo names a contiguous chain segment: positions From..To, the
// first linking to PrevHash.
type SegmentInfo struct {
	From     uint64 `json:"from"`
	To       uint64 `json:"to"`
	PrevHash string `json:"prev_hash"`
}

// EnvelopesInfo names a set of separate envelopes, e.g. one subject's.
type EnvelopesInfo struct {
	Subject string `json:"subject,omitempty"`
	Count   int    `json:"count"`
}

// ErrBadSegment is wrapped by a segment request or header that cannot be
// honoured.
var ErrBadSegment = errors.New("audit: bad segment")

// ExportSegment writes positions from..to (inclusive) as a segment: the
// header, then one envelope per line. The ledger must hold every position.
func ExportSegment(ctx context.Context, w io.Writer, store eventstore.Store, from, to uint64) (SegmentInfo, error) {
	if from < 1 || to < from {
		return SegmentInfo{}, fmt.Errorf("%w: need 1 <= from <= to, got %d..%d", ErrBadSegment, from, to)
	}
	first, err := store.ReadAll(ctx, from-1, 1)
	if err != nil {
		return SegmentInfo{}, fmt.Errorf("audit: read position %d: %w", from, err)
	}
	if len(first) == 0 || first[0].Position != from {
		return SegmentInfo{}, fmt.Errorf("%w: the ledger holds no position %d", ErrBadSegment, from)
	}
	// Both ends exist before anything is written, so a bad range never
	// leaves a partial segment on standard output.
	last, err := store.ReadAll(ctx, to-1, 1)
	if err != nil {
		return SegmentInfo{}, fmt.Errorf("audit: read position %d: %w", to, err)
	}
	if len(last) == 0 || last[0].Position != to {
		return SegmentInfo{}, fmt.Errorf("%w: the ledger holds no position %d", ErrBadSegment, to)
	}
	info := SegmentInfo{From: from, To: to, PrevHash: first[0].PrevHash}
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := writeHeader(bw, Header{Segment: &info}); err != nil {
		return info, err
	}
	var buf []byte
	for next := from; next <= to; {
		recs, err := store.ReadAll(ctx, next-1, min(DefaultPageSize, int(to-next+1)))
		if err != nil {
			return info, fmt.Errorf("audit: read after position %d: %w", next-1, err)
		}
		if len(recs) == 0 {
			return info, fmt.Errorf("%w: the ledger ended at position %d", ErrBadSegment, next-1)
		}
		for _, r := range recs {
			if buf, err = AppendLine(buf[:0], r); err != nil {
				return info, err
			}
			if _, err := bw.Write(buf); err != nil {
				return info, fmt.Errorf("audit: write export: %w", err)
			}
			next = r.Position + 1
		}
	}
	return info, bw.Flush()
}

// ExportEnvelopes writes the records at positions (ascending) as separate
// envelopes under an envelopes header naming subject.
func ExportEnvelopes(ctx context.Context, w io.Writer, store eventstore.Store, subject string, positions []uint64) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := writeHeader(bw, Header{Envelopes: &EnvelopesInfo{Subject: subject, Count: len(positions)}}); err != nil {
		return err
	}
	var buf []byte
	for i := 0; i < len(positions); {
		// One read per run of consecutive positions.
		j := i + 1
		for j < len(positions) && positions[j] == positions[j-1]+1 && j-i < DefaultPageSize {
			j++
		}
		recs, err := store.ReadAll(ctx, positions[i]-1, j-i)
		if err != nil {
			return fmt.Errorf("audit: read position %d: %w", positions[i], err)
		}
		if len(recs) != j-i || recs[0].Position != positions[i] {
			return fmt.Errorf("%w: the ledger does not hold position %d", ErrBadSegment, positions[i])
		}
		for _, r := range recs {
			if buf, err = AppendLine(buf[:0], r); err != nil {
				return err
			}
			if _, err := bw.Write(buf); err != nil {
				return fmt.Errorf("audit: write export: %w", err)
			}
		}
		i = j
	}
	return bw.Flush()
}

func writeHeader(w io.Writer, h Header) error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// ReadHeader reads the header line of a partial export from r, or returns
// nil and leaves r where it was when the first line is an envelope (a
// whole export). A header line that is neither is an error.
func ReadHeader(r *bufio.Reader) (*Header, error) {
	peek, err := r.Peek(len(`{"envelopes"`))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if !bytes.HasPrefix(peek, []byte(`{"segment"`)) && !bytes.HasPrefix(peek, []byte(`{"envelopes"`)) {
		return nil, nil // an envelope: export lines start with {"position"
	}
	line, err := r.ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	var h Header
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil || (h.Segment == nil) == (h.Envelopes == nil) {
		return nil, fmt.Errorf("%w: the header line is not one segment or envelopes object", ErrBadSegment)
	}
	if s := h.Segment; s != nil && (s.From < 1 || s.To < s.From || !isHash(s.PrevHash)) {
		return nil, fmt.Errorf("%w: the header's from, to or prev_hash is not valid", ErrBadSegment)
	}
	return &h, nil
}

// VerifySegment verifies a segment's envelopes (the header already read)
// as a chain starting at info.From and linking to info.PrevHash, ending at
// info.To. A checkpoint (opt.Checkpoint or opt.Signed) must sign a
// position inside the segment: then the segment up to it is proven part of
// the ledger that checkpoint signed.
func VerifySegment(r io.Reader, info SegmentInfo, opt Options) (eventstore.Head, error) {
	v := NewVerifier(opt)
	v.next, v.prev, v.segment = info.From, info.PrevHash, true
	d := NewDecoder(r)
	for {
		rec, err := d.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return eventstore.Head{}, v.fail(err.Error(), err)
		}
		if err := v.Add(rec); err != nil {
			return eventstore.Head{}, err
		}
	}
	head, err := v.Finish()
	if err != nil {
		return head, err
	}
	if head.Position != info.To {
		return head, &Error{Position: head.Position + 1, Reason: fmt.Sprintf("missing: the segment ends at position %d but its header says %d", head.Position, info.To)}
	}
	if cp := v.checkpoint; cp != nil && cp.Position < info.From {
		return head, &Error{Position: info.From, Reason: fmt.Sprintf("the checkpoint signed position %d, before the segment: it proves nothing about it", cp.Position)}
	}
	return head, nil
}

// VerifyEnvelopes checks each envelope (the header already read) against
// its own hash, without a chain: each proves its content given its hash,
// which a segment or the whole ledger then places in the chain. It
// returns how many envelopes verified, or the first that did not.
func VerifyEnvelopes(r io.Reader, info EnvelopesInfo) (int, error) {
	d := NewDecoder(r)
	var h hasher
	n := 0
	var last uint64
	for {
		rec, err := d.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, &Error{Position: last + 1, Reason: err.Error(), Cause: err}
		}
		if rec.Position <= last {
			return n, &Error{Position: rec.Position, Reason: "envelopes are not in ascending position order"}
		}
		sum, err := h.hash(rec)
		if err != nil || sum != rec.Hash {
			return n, &Error{Position: rec.Position, Reason: "hash mismatch: the envelope was altered"}
		}
		last = rec.Position
		n++
	}
	if n != info.Count {
		return n, &Error{Position: last + 1, Reason: fmt.Sprintf("the header announces %d envelopes, the file holds %d", info.Count, n)}
	}
	return n, nil
}
