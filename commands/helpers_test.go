package commands_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
)

// containsB64 reports whether data holds needle in any common encoding.
func containsB64(data, needle []byte) bool {
	for _, enc := range []string{
		base64.StdEncoding.EncodeToString(needle), base64.RawStdEncoding.EncodeToString(needle),
		base64.RawURLEncoding.EncodeToString(needle), hex.EncodeToString(needle),
	} {
		if bytes.Contains(data, []byte(enc)) {
			return true
		}
	}
	return false
}
