package api

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/authledger/authledger/queries"
)

// auditParams are the query parameters an audit endpoint accepts, and the
// page order it lists by default.
type auditParams struct {
	allowed    []string
	descending bool
}

var (
	// auditorParams are GET /v1/audit/events's (docs/audit.md).
	auditorParams = auditParams{allowed: []string{"subject", "actor", "client_id", "type", "session_id", "family",
		"since", "until", "from_position", "to_position", "order", "limit", "cursor"}}
	// ownerParams are GET /v1/me/audit's: nothing that names a subject,
	// an actor or another person's session; newest first.
	ownerParams = auditParams{allowed: []string{"type", "since", "until", "order", "limit", "cursor"}, descending: true}
)

// errAuditQuery is wrapped by every refused audit query.
var errAuditQuery = errors.New("api: bad audit query")

// maxAuditValue bounds each parameter value: identifiers are short, and a
// long value only costs the index scan.
const maxAuditValue = 255

// parseAuditQuery turns query parameters into a filter. Every parameter
// must be one p allows, and only type may repeat; a bad one is refused
// with the parameter's name, never ignored, so a typo cannot silently
// widen an auditor's query.
func parseAuditQuery(q url.Values, p auditParams) (queries.AuditFilter, error) {
	f := queries.AuditFilter{Limit: queries.DefaultAuditPage, Descending: p.descending}
	bad := func(name, detail string) (queries.AuditFilter, error) {
		return queries.AuditFilter{}, fmt.Errorf("%w: %s: %s", errAuditQuery, name, detail)
	}
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	slices.Sort(names) // the first bad parameter is the same on every call
	for _, name := range names {
		vals := q[name]
		if !slices.Contains(p.allowed, name) {
			return bad(name, "not a parameter of this endpoint")
		}
		if name != "type" && len(vals) != 1 {
			return bad(name, "must be given once")
		}
		for _, v := range vals {
			if v == "" || len(v) > maxAuditValue || !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				return bad(name, "must be 1-255 bytes of printable UTF-8")
			}
		}
		v := vals[0]
		var err error
		switch name {
		case "subject":
			f.Subject = v
		case "actor":
			f.Actor = v
		case "client_id":
			f.Client = v
		case "session_id":
			f.Session = v
		case "family":
			f.Family = v
		case "type":
			if len(vals) > 32 {
				return bad(name, "at most 32 types")
			}
			f.Types = slices.Clone(vals)
		case "since":
			f.Since, err = time.Parse(time.RFC3339Nano, v)
		case "until":
			f.Until, err = time.Parse(time.RFC3339Nano, v)
		case "from_position":
			f.FromPosition, err = parsePosition(v)
		case "to_position":
			f.ToPosition, err = parsePosition(v)
		case "limit":
			var n uint64
			n, err = strconv.ParseUint(v, 10, 16)
			if err == nil && (n < 1 || n > queries.MaxAuditPage) {
				err = errors.New("out of range")
			}
			f.Limit = int(n)
		}
		if err != nil {
			return bad(name, "not a valid value")
		}
	}
	// The order decides how a cursor reads, so it is settled first.
	if o := q.Get("order"); o != "" {
		switch o {
		case "asc":
			f.Descending = false
		case "desc":
			f.Descending = true
		default:
			return bad("order", `must be "asc" or "desc"`)
		}
	}
	if c := q.Get("cursor"); c != "" {
		after, desc, err := parseCursor(c)
		if err != nil || desc != f.Descending {
			return bad("cursor", "not a cursor of this order")
		}
		f.After = after
	}
	if err := f.Validate(); err != nil {
		return queries.AuditFilter{}, fmt.Errorf("%w: %w", errAuditQuery, err)
	}
	return f, nil
}

// parsePosition reads a ledger position: 1 … 2^63-1, decimal, no sign.
func parsePosition(v string) (uint64, error) {
	n, err := strconv.ParseUint(v, 10, 63)
	if err != nil || n == 0 {
		return 0, errors.New("not a position")
	}
	return n, nil
}

// A cursor is opaque to clients: base64url of "a.<position>" ascending or
// "d.<position>" descending, the last position of the page it follows.
func formatCursor(after uint64, desc bool) string {
	d := "a."
	if desc {
		d = "d."
	}
	return formatRaw([]byte(d + strconv.FormatUint(after, 10)))
}

func formatRaw(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func parseCursor(s string) (after uint64, desc bool, err error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return 0, false, err
	}
	dir, num, ok := strings.Cut(string(b), ".")
	if !ok || (dir != "a" && dir != "d") {
		return 0, false, errors.New("api: cursor: bad direction")
	}
	after, err = parsePosition(num)
	if err != nil || strconv.FormatUint(after, 10) != num {
		return 0, false, errors.New("api: cursor: bad position")
	}
	return after, dir == "d", nil
}

// auditQueryProblem is the 400 answer to a refused audit query.
func auditQueryProblem(err error) error {
	p := NewProblem(http.StatusBadRequest, "invalid-request", "Bad Request", "the query parameters are not valid")
	p.Errors = []FieldError{{Field: "query", Detail: strings.ReplaceAll(strings.TrimPrefix(err.Error(), errAuditQuery.Error()+": "), "\n", "; ")}}
	return p
}

// parseCheckpointsQuery reads GET /v1/audit/checkpoints's after (a
// position, 0 for all) and limit (1-500, 100 by default).
func parseCheckpointsQuery(q url.Values) (after uint64, limit int, err error) {
	limit = 100
	for name, vals := range q {
		if len(vals) != 1 {
			return 0, 0, fmt.Errorf("%w: %s: must be given once", errAuditQuery, name)
		}
		switch name {
		case "after":
			after, err = strconv.ParseUint(vals[0], 10, 63)
		case "limit":
			var n uint64
			n, err = strconv.ParseUint(vals[0], 10, 16)
			if err == nil && (n < 1 || n > queries.MaxAuditPage) {
				err = errors.New("out of range")
			}
			limit = int(n)
		default:
			return 0, 0, fmt.Errorf("%w: %s: not a parameter of this endpoint", errAuditQuery, name)
		}
		if err != nil {
			return 0, 0, fmt.Errorf("%w: %s: not a valid value", errAuditQuery, name)
		}
	}
	return after, limit, nil
}
