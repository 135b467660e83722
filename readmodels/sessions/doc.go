// Package sessions holds the active-sessions read model: the SQL projection
// Active folds session events from the ledger (started and not ended, by id
// and by subject). The live session store, with idle touches, is write-side
// state and lives in sessionstore/.
package sessions
