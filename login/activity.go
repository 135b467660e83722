package login

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"sync/atomic"

	"github.com/authledger/authledger/api"
	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/queries"
)

// AuditActivityPage is how many audit entries the account page asks for:
// the first page of GET /v1/me/audit would drown the page.
const AuditActivityPage = 20

// AuditActivity is the account page's recent activity read from the audit
// read model (audit.v1) with the query GET /v1/me/audit answers: the
// signed-in subject forced as the filter, newest first, one small page.
//
// audit.v1 does not tell passkey events (readmodels/audit.Types), so the
// passkey stream's steps (sign-ins refused and why, registrations, clone
// warnings) are merged in from Passkeys rather than lost; each source is
// capped on its own, so a burst of token refreshes never pushes a clone
// warning off the page. Until UseAudit is called, or when the audit query
// fails, the page shows the passkey steps alone: the read model is a
// convenience for this page, and its outage must not take /account down.
type AuditActivity struct {
	// Passkeys is the fallback and the source of passkey steps
	// (LedgerActivity).
	Passkeys ActivityFeed
	Log      *slog.Logger
	audit    atomic.Pointer[auditSource]
}

type auditSource struct{ r api.AuditReader }

// UseAudit wires the audit read model's reader. The composition root calls
// it once the audit part is built, which is after the login part.
func (a *AuditActivity) UseAudit(r api.AuditReader) {
	if r != nil {
		a.audit.Store(&auditSource{r: r})
	}
}

// Recent implements ActivityFeed.
func (a *AuditActivity) Recent(ctx context.Context, subject string) ([]ActivityItem, error) {
	var out []ActivityItem
	if a.Passkeys != nil {
		var err error
		if out, err = a.Passkeys.Recent(ctx, subject); err != nil {
			return nil, err
		}
	}
	src := a.audit.Load()
	if src == nil || subject == "" {
		return out, nil
	}
	page, err := src.r.Events(ctx, queries.AuditFilter{Subject: subject, Descending: true, Limit: AuditActivityPage})
	if err != nil {
		if a.Log != nil {
			a.Log.WarnContext(ctx, "account page: audit read model unavailable, showing passkey activity only", "err", err)
		}
		return out, nil
	}
	for _, e := range page.Entries {
		if e.Subject != subject {
			continue // belt and braces: the filter already selects the subject
		}
		it := ActivityItem{What: e.Summary, At: e.RecordedAt}
		if e.Client != "" && e.Client != commands.LoginClientID {
			it.Detail = "by " + e.Client
		}
		out = append(out, it)
	}
	slices.SortStableFunc(out, func(x, y ActivityItem) int { return cmp.Compare(y.At.UnixNano(), x.At.UnixNano()) })
	return out, nil
}
