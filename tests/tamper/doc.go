// Package tamper edits real ledgers behind the service's back, directly in
// an SQLite file and in a PostgreSQL database with plain SQL as an attacker
// with database access would, and checks that audit.Verify names the exact
// position of every edit, deletion, insertion and swap.
package tamper
