package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/audit"
	"github.com/authledger/authledger/queries"
	rmaudit "github.com/authledger/authledger/readmodels/audit"
)

// errEnvelopesVerified ends `audit verify` of a subject export after its
// own ok line: such a file has no head to report.
var errEnvelopesVerified = errors.New("envelopes verified")

// verifyFile verifies an export: a whole one (no header) from position 1,
// a segment from the position its header states, or a set of separate
// envelopes, each against its own hash (docs/ledger-format.md, "Segments
// and subject exports").
func verifyFile(r io.Reader, opt audit.Options, stdout io.Writer) (eventstore.Head, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	h, err := audit.ReadHeader(br)
	switch {
	case err != nil:
		return eventstore.Head{}, &audit.Error{Position: 1, Reason: err.Error(), Cause: err}
	case h == nil:
		return audit.VerifyExport(br, opt)
	case h.Segment != nil:
		head, err := audit.VerifySegment(br, *h.Segment, opt)
		if err == nil {
			fmt.Fprintf(stdout, "ok: segment positions %d..%d links to prev_hash %s\n", h.Segment.From, h.Segment.To, h.Segment.PrevHash)
		}
		return head, err
	default:
		if opt.Checkpoint != nil || opt.Signed != nil {
			return eventstore.Head{}, &audit.Error{Position: 1, Reason: "a checkpoint proves a chain, and separate envelopes are not one: verify a segment from the envelope to the checkpoint's position instead"}
		}
		n, err := audit.VerifyEnvelopes(br, *h.Envelopes)
		if err != nil {
			return eventstore.Head{}, err
		}
		fmt.Fprintf(stdout, "ok: %d envelopes each match their hash\n", n)
		return eventstore.Head{}, errEnvelopesVerified
	}
}

// exportSubject writes the envelopes the audit read model lists for
// subject, read from the ledger itself (the read model only says where).
func exportSubject(ctx context.Context, cfg Config, store eventstore.Store, w io.Writer, subject string) (int, error) {
	db, err := openExistingReadModels(ctx, cfg)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	reader := rmaudit.NewStore(db)
	var positions []uint64
	f := queries.AuditFilter{Subject: subject, Limit: queries.MaxAuditPage}
	for {
		page, err := reader.Events(ctx, f)
		if err != nil {
			return 0, fmt.Errorf("audit read model: %w", err)
		}
		for _, e := range page.Entries {
			positions = append(positions, e.Position)
		}
		if !page.More {
			break
		}
		f.After = page.Next
	}
	return len(positions), audit.ExportEnvelopes(ctx, w, store, subject, positions)
}
