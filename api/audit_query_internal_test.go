package api

import (
	"errors"
	"net/url"
	"slices"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/authledger/authledger/queries"
)

func TestAuditQueryParser(t *testing.T) {
	t.Parallel()
	since := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name  string
		query string
		p     auditParams
		want  queries.AuditFilter
		ok    bool
	}{
		{"no parameters lists the first page oldest first", "", auditorParams, queries.AuditFilter{Limit: 50}, true},
		{"every filter at once", "subject=s&actor=a&client_id=c&session_id=x&family=f&type=t1&type=t2&since=2026-11-01T00:00:00Z&from_position=3&to_position=9&limit=7", auditorParams,
			queries.AuditFilter{Subject: "s", Actor: "a", Client: "c", Session: "x", Family: "f", Types: []string{"t1", "t2"}, Since: since, FromPosition: 3, ToPosition: 9, Limit: 7}, true},
		{"a cursor continues after its position", "cursor=" + formatCursor(41, false), auditorParams, queries.AuditFilter{After: 41, Limit: 50}, true},
		{"the dashboard lists newest first", "", ownerParams, queries.AuditFilter{Limit: 50, Descending: true}, true},
		{"the dashboard takes a newest-first cursor", "cursor=" + formatCursor(9, true), ownerParams, queries.AuditFilter{After: 9, Limit: 50, Descending: true}, true},
		{"a cursor of the other order is refused", "cursor=" + formatCursor(9, false), ownerParams, queries.AuditFilter{}, false},
		{"the dashboard refuses a subject", "subject=bob", ownerParams, queries.AuditFilter{}, false},
		{"the dashboard refuses an actor", "actor=subject:bob", ownerParams, queries.AuditFilter{}, false},
		{"an unknown parameter is refused, not ignored", "subjet=bob", auditorParams, queries.AuditFilter{}, false},
		{"a case variant is unknown", "Subject=bob", auditorParams, queries.AuditFilter{}, false},
		{"a repeated single parameter is refused", "subject=a&subject=b", auditorParams, queries.AuditFilter{}, false},
		{"an empty value is refused", "subject=", auditorParams, queries.AuditFilter{}, false},
		{"bytes that are not UTF-8 are refused (PostgreSQL would fail on them)", "subject=%ff%fe", auditorParams, queries.AuditFilter{}, false},
		{"a control character is refused", "subject=a%00b", auditorParams, queries.AuditFilter{}, false},
		{"a limit above 500 is refused", "limit=501", auditorParams, queries.AuditFilter{}, false},
		{"a zero limit is refused", "limit=0", auditorParams, queries.AuditFilter{}, false},
		{"a signed position is refused", "from_position=-1", auditorParams, queries.AuditFilter{}, false},
		{"position 0 is refused", "from_position=0", auditorParams, queries.AuditFilter{}, false},
		{"an inverted position range is refused", "from_position=9&to_position=3", auditorParams, queries.AuditFilter{}, false},
		{"a time that is not RFC 3339 is refused", "since=yesterday", auditorParams, queries.AuditFilter{}, false},
		{"an inverted time range is refused", "since=2026-11-02T00:00:00Z&until=2026-11-01T00:00:00Z", auditorParams, queries.AuditFilter{}, false},
		{"a cursor that is not ours is refused", "cursor=eA", auditorParams, queries.AuditFilter{}, false},
		{"a cursor with a padded number is refused", "cursor=" + b64("a.007"), auditorParams, queries.AuditFilter{}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			q, err := url.ParseQuery(c.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseAuditQuery(q, c.p)
			if c.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, c.ok)
			}
			if err != nil {
				if !errors.Is(err, errAuditQuery) {
					t.Fatalf("err %v does not wrap errAuditQuery", err)
				}
				return
			}
			if !equalFilter(got, c.want) {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func b64(s string) string { return formatRaw([]byte(s)) }

func equalFilter(a, b queries.AuditFilter) bool {
	return a.Subject == b.Subject && a.Actor == b.Actor && a.Client == b.Client && a.Session == b.Session && a.Family == b.Family &&
		slices.Equal(a.Types, b.Types) && a.Since.Equal(b.Since) && a.Until.Equal(b.Until) && a.FromPosition == b.FromPosition &&
		a.ToPosition == b.ToPosition && a.After == b.After && a.Descending == b.Descending && a.Limit == b.Limit
}

// FuzzAuditQuery feeds untrusted query strings to the parser: it never
// panics, what it accepts the store can answer, the dashboard's parameters
// never carry a subject or another person's identifiers, and a cursor it
// accepts is the one it would print.
func FuzzAuditQuery(f *testing.F) {
	for _, s := range []string{"", "subject=a&type=x&type=y&limit=5", "cursor=" + formatCursor(12, true), "since=2026-01-02T03:04:05.000006Z&until=2027-01-01T00:00:00+02:00",
		"from_position=1&to_position=9223372036854775807", "order=desc&cursor=ZC4x", "subject=%ff%fe", "type=" + string(make([]byte, 300))} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		for _, p := range []auditParams{auditorParams, ownerParams} {
			got, err := parseAuditQuery(q, p)
			if err != nil {
				if !errors.Is(err, errAuditQuery) {
					t.Fatalf("%q: error %v does not wrap errAuditQuery", raw, err)
				}
				continue
			}
			for _, v := range []string{got.Subject, got.Actor, got.Client, got.Session, got.Family} {
				if !utf8.ValidString(v) {
					t.Fatalf("%q: accepted bytes that are not UTF-8", raw)
				}
			}
			if err := got.Validate(); err != nil {
				t.Fatalf("%q: accepted a filter the store refuses: %v", raw, err)
			}
			if p.descending && (got.Subject != "" || got.Actor != "" || got.Client != "" || got.Session != "" || got.Family != "") {
				t.Fatalf("%q: the dashboard's parser let an identifier through: %+v", raw, got)
			}
			if c := q.Get("cursor"); c != "" {
				if formatCursor(got.After, got.Descending) != c {
					t.Fatalf("%q: accepted cursor %q reads as %d, which prints differently", raw, c, got.After)
				}
			}
		}
	})
}
