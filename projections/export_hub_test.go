package projections

// FeedReads is how many ledger records the runner's shared subscription
// read, and how many its projections' feeds read on their own.
func FeedReads(r *Runner) (shared, own uint64) { return r.hub.shared.Load(), r.hub.own.Load() }
