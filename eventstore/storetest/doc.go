// Package storetest is the contract every eventstore.Store adapter passes.
// An adapter's own test calls Run with a Factory that can reopen the same
// ledger by name; adapter-specific behaviour (schemas, several processes on
// one database, notifications) is tested next to the adapter, not here.
package storetest
