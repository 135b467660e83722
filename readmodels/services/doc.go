// Package services is the service registry read model: every client's
// current state folded from its client-<id> stream, held in process on each
// instance and fed by the ledger feed, so the token endpoint authenticates
// without a database round trip and sees a registration, rotation or
// disable within the feed's delay (milliseconds; bounded well under 1 s).
// The single-use store for private_key_jwt assertion ids is write-side
// state and lives in replayguard/.
package services
