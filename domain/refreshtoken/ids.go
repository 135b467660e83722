package refreshtoken

import (
	"encoding/hex"
	"fmt"
)

// FamilyID names a family; its stream is "family-" + String().
type FamilyID [16]byte

// TokenID names one refresh token of a family. It is not a secret on its
// own: only the sealed token, which nobody can forge without the sealing
// key, is a credential.
type TokenID [16]byte

func (id FamilyID) String() string { return hex.EncodeToString(id[:]) }
func (id TokenID) String() string  { return hex.EncodeToString(id[:]) }

// IsZero reports whether id is unset.
func (id FamilyID) IsZero() bool { return id == FamilyID{} }

// IsZero reports whether id is unset.
func (id TokenID) IsZero() bool { return id == TokenID{} }

// Stream is the ledger stream of the family.
func (id FamilyID) Stream() string { return StreamPrefix + id.String() }

// StreamPrefix starts every family stream name.
const StreamPrefix = "family-"

func (id FamilyID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }
func (id TokenID) MarshalText() ([]byte, error)  { return []byte(id.String()), nil }

func (id *FamilyID) UnmarshalText(b []byte) error { return parseID(id[:], b) }
func (id *TokenID) UnmarshalText(b []byte) error  { return parseID(id[:], b) }

// ParseFamilyID parses the 32 lower-case hex characters of String.
func ParseFamilyID(s string) (FamilyID, error) {
	var id FamilyID
	return id, parseID(id[:], []byte(s))
}

func parseID(dst []byte, b []byte) error {
	if len(b) != 32 {
		return fmt.Errorf("refreshtoken: id must be 32 hex characters, got %d", len(b))
	}
	for _, c := range b {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return fmt.Errorf("refreshtoken: id must be lower-case hex")
		}
	}
	_, err := hex.Decode(dst, b)
	return err
}
