// Package audit holds the audit read model, audit.v1 (DESIGN.md §1): one
// entry per ledger event, in words a person reads, with the subject, actor,
// client, session, family, token and key it concerns, its time, position
// and hash. The SQL projection Projection keeps it; Store answers the
// auditors' and the privacy dashboard's queries (queries.AuditReader).
// docs/audit.md documents the entries and the endpoints that serve them.
package audit
