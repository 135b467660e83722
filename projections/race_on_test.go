//go:build race

package projections_test

// raceEnabled shrinks the property test: SQLite (modernc) runs ~15x slower
// under the race detector.
const raceEnabled = true
