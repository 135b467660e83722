package storetest

import (
	"fmt"

	"github.com/authledger/authledger/eventstore"
)

// CheckChain verifies records read from position 1 in order: gapless
// positions, gapless versions per stream, prev_hash links and every hash
// recomputed with eventstore.ComputeHash. It names the first bad position.
func CheckChain(recs []eventstore.Record) error {
	prev := eventstore.GenesisHash
	versions := map[string]uint64{}
	for i, r := range recs {
		if r.Position != uint64(i+1) {
			return fmt.Errorf("position %d: expected position %d", r.Position, i+1)
		}
		if r.PrevHash != prev {
			return fmt.Errorf("position %d: prev_hash %s does not link to %s", r.Position, r.PrevHash, prev)
		}
		if want := versions[r.Stream] + 1; r.Version != want {
			return fmt.Errorf("position %d: stream %q version %d, expected %d", r.Position, r.Stream, r.Version, want)
		}
		versions[r.Stream] = r.Version
		h, err := eventstore.ComputeHash(r)
		if err != nil {
			return fmt.Errorf("position %d: %w", r.Position, err)
		}
		if h != r.Hash {
			return fmt.Errorf("position %d: hash %s, recomputed %s", r.Position, r.Hash, h)
		}
		prev = r.Hash
	}
	return nil
}
