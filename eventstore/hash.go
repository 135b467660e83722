package eventstore

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gowebpki/jcs"
)

// FormatVersion is the first line of every hashed envelope (DESIGN.md §3).
const FormatVersion = "authledger/v1"

// GenesisHash is the prev_hash of the first event.
var GenesisHash = strings.Repeat("0", 64)

// TimeLayout is recorded_at's form in hashes and exports: RFC 3339 UTC with
// exactly six fractional digits.
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// FormatTime renders t as TimeLayout in UTC.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// ParseTime parses TimeLayout strictly: exactly six fractional digits and Z.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(TimeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("recorded_at %q: want RFC 3339 UTC with 6 fractional digits: %w", s, err)
	}
	if FormatTime(t) != s {
		return time.Time{}, fmt.Errorf("recorded_at %q: not in canonical form", s)
	}
	return t, nil
}

// CanonicalDigest is the lower-case hex SHA-256 of JCS(doc) (RFC 8785).
func CanonicalDigest(doc []byte) (string, error) {
	c, err := jcs.Transform(doc)
	if err != nil {
		return "", fmt.Errorf("canonicalize JSON: %w", err)
	}
	sum := sha256.Sum256(c)
	return hex.EncodeToString(sum[:]), nil
}

// HashInput returns the ten-line text whose SHA-256 is r.Hash. It uses
// r.PrevHash, so the caller sets that first.
func HashInput(r Record) (string, error) {
	dataDigest, err := CanonicalDigest(orEmptyObject(r.Data))
	if err != nil {
		return "", fmt.Errorf("data: %w", err)
	}
	metaDigest, err := CanonicalDigest(orEmptyObject(r.Metadata))
	if err != nil {
		return "", fmt.Errorf("metadata: %w", err)
	}
	return hashInput(r, dataDigest, metaDigest), nil
}

func hashInput(r Record, dataDigest, metaDigest string) string {
	return strings.Join([]string{
		FormatVersion,
		r.PrevHash,
		strconv.FormatUint(r.Position, 10),
		r.Stream,
		strconv.FormatUint(r.Version, 10),
		r.ID,
		r.Type,
		FormatTime(r.RecordedAt),
		dataDigest,
		metaDigest,
	}, "\n")
}

// hashWithDigests is ComputeHash with the JCS digests already known.
func hashWithDigests(r Record, dataDigest, metaDigest string) string {
	sum := sha256.Sum256([]byte(hashInput(r, dataDigest, metaDigest)))
	return hex.EncodeToString(sum[:])
}

// ComputeHash derives r's hash from its envelope and r.PrevHash.
func ComputeHash(r Record) (string, error) {
	in, err := HashInput(r)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(in))
	return hex.EncodeToString(sum[:]), nil
}

func orEmptyObject(b []byte) []byte {
	if len(b) == 0 {
		return []byte("{}")
	}
	return b
}
