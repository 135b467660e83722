package queries

import (
	"context"
	"errors"
	"time"
)

// AuditFilter selects entries of the audit read model (readmodels/audit).
// A zero field does not filter; set fields are combined with AND, and
// Types with OR among themselves.
type AuditFilter struct {
	Subject string
	Actor   string
	Client  string
	Session string
	Family  string
	Types   []string
	// Since and Until bound recorded_at: Since <= t < Until.
	Since, Until time.Time
	// FromPosition and ToPosition bound the ledger position, inclusive.
	FromPosition, ToPosition uint64
	// After is the cursor: only entries past it in the page order (greater
	// positions ascending, smaller descending). Positions never change and
	// the projection applies them in order, so a cursor neither skips nor
	// repeats an entry while new events arrive.
	After uint64
	// Descending lists newest first.
	Descending bool
	// Limit is the page size, 1..MaxAuditPage.
	Limit int
}

// Page sizes of the audit queries.
const (
	DefaultAuditPage = 50
	MaxAuditPage     = 500
)

// ErrBadAuditFilter is wrapped by a filter the store cannot answer.
var ErrBadAuditFilter = errors.New("queries: bad audit filter")

// Validate names what is wrong with f, wrapping ErrBadAuditFilter.
func (f AuditFilter) Validate() error {
	var errs []error
	if f.Limit < 1 || f.Limit > MaxAuditPage {
		errs = append(errs, errors.New("limit must be 1-500"))
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		errs = append(errs, errors.New("since must be before until"))
	}
	if f.FromPosition != 0 && f.ToPosition != 0 && f.FromPosition > f.ToPosition {
		errs = append(errs, errors.New("from_position must not exceed to_position"))
	}
	if len(f.Types) > 32 {
		errs = append(errs, errors.New("at most 32 types"))
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.Join(append([]error{ErrBadAuditFilter}, errs...)...)
}

// AuditEntry is one ledger event as the audit read model tells it. The
// JSON shape is documented in docs/audit.md; the account page reads it.
type AuditEntry struct {
	// Position and Hash name the ledger envelope the entry stands for, so
	// an auditor can prove it against an export (docs/ledger-format.md).
	Position   uint64    `json:"position"`
	Hash       string    `json:"hash"`
	Stream     string    `json:"stream"`
	Type       string    `json:"type"`
	Summary    string    `json:"summary"`
	RecordedAt time.Time `json:"recorded_at"`
	Subject    string    `json:"subject,omitempty"`
	Actor      string    `json:"actor,omitempty"`
	Client     string    `json:"client_id,omitempty"`
	Session    string    `json:"session_id,omitempty"`
	Family     string    `json:"family,omitempty"`
	JTI        string    `json:"jti,omitempty"`
	KeyID      string    `json:"kid,omitempty"`
}

// AuditPage is one page of entries. Next is the cursor of the following
// page: the last position returned (or the filter's After when the page is
// empty), so an ascending reader that reached the end polls again from it
// and sees only newer entries. More says whether entries past Next already
// exist.
type AuditPage struct {
	Entries []AuditEntry
	Next    uint64
	More    bool
}

// AuditReader reads the audit read model.
type AuditReader interface {
	Events(ctx context.Context, f AuditFilter) (AuditPage, error)
}

// RecordedCheckpoint is one periodic signed checkpoint as the audit model
// keeps it (GET /v1/audit/checkpoints).
type RecordedCheckpoint struct {
	// Position and Hash are the head it signed.
	Position uint64 `json:"position"`
	Hash     string `json:"hash"`
	// Checkpoint is the compact JWS, as GET /v1/audit/checkpoint answers.
	Checkpoint string    `json:"checkpoint"`
	SignedAt   time.Time `json:"signed_at"`
	// RecordedAtPosition is the ledger position of the event recording it.
	RecordedAtPosition uint64 `json:"recorded_at_position"`
}

// CheckpointLister lists recorded checkpoints.
type CheckpointLister interface {
	Checkpoints(ctx context.Context, after uint64, limit int) ([]RecordedCheckpoint, error)
}
