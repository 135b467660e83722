// Package replayguard remembers single-use ids until they expire: the
// private_key_jwt assertion ids (jti) the token endpoint accepts once each
// (RFC 7523 §3 item 7). It is write-side state, not a read model: nothing
// folds it from the ledger. Memory serves one instance; Redis is shared by
// every instance.
package replayguard
