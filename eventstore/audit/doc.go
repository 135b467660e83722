// Package audit checks and exports the ledger the way an outside auditor
// would: a streaming Verifier that re-derives every link and hash of
// DESIGN.md §3 format v1, the JSON-lines export of DESIGN.md §5 with its
// strict Decoder, and verification of signed checkpoints that detect a
// truncated or rewritten ledger. It depends only on the eventstore port, so
// it verifies any adapter and any export alike.
package audit
