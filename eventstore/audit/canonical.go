package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/authledger/authledger/eventstore"
)

// hasher is eventstore.ComputeHash with a fast canonicalizer for the JSON
// events actually hold (the general one, eventstore.CanonicalDigest,
// dominated verification time) and buffers reused across records. Anything
// the fast path is not sure of goes through eventstore.CanonicalDigest, so
// the result is always the same: FuzzCanonicalFastPath and the tests hold it
// to JCS and to eventstore.ComputeHash. A hasher is not safe for concurrent
// use.
type hasher struct {
	in []byte
	c  canon
}

func (h *hasher) hash(r eventstore.Record) (string, error) {
	b := append(h.in[:0], eventstore.FormatVersion...)
	b = append(append(b, '\n'), r.PrevHash...)
	b = strconv.AppendUint(append(b, '\n'), r.Position, 10)
	b = append(append(b, '\n'), r.Stream...)
	b = strconv.AppendUint(append(b, '\n'), r.Version, 10)
	b = append(append(b, '\n'), r.ID...)
	b = append(append(b, '\n'), r.Type...)
	b = r.RecordedAt.UTC().AppendFormat(append(b, '\n'), eventstore.TimeLayout)
	var err error
	if b, err = h.digest(append(b, '\n'), r.Data); err != nil {
		return "", fmt.Errorf("data: %w", err)
	}
	if b, err = h.digest(append(b, '\n'), r.Metadata); err != nil {
		return "", fmt.Errorf("metadata: %w", err)
	}
	h.in = b
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// digest appends the hex SHA-256 of JCS(doc) to dst; empty doc means {}.
func (h *hasher) digest(dst, doc []byte) ([]byte, error) {
	if len(doc) == 0 {
		doc = []byte("{}")
	}
	h.c = canon{in: doc, out: h.c.out[:0]}
	if out, ok := h.c.canonicalize(); ok {
		sum := sha256.Sum256(out)
		return hex.AppendEncode(dst, sum[:]), nil
	}
	d, err := eventstore.CanonicalDigest(doc)
	return append(dst, d...), err
}

// canon is a narrow RFC 8785 canonicalizer for the JSON events actually
// hold: ASCII member names and strings without escapes, integers of at most
// 15 digits (exactly representable, so ECMAScript prints them unchanged),
// literals, any whitespace. It reorders members and drops whitespace. On
// anything else (escapes, fractions, exponents, -0, non-ASCII names whose
// UTF-16 order could differ, duplicate names, invalid JSON) it gives up and
// the caller uses the general canonicalizer.
type canon struct {
	in  []byte
	i   int
	out []byte
}

// maxDepth bounds recursion on hostile input; deeper documents take the
// general path.
const maxDepth = 64

// canonicalize returns the canonical form of c.in, which must be an object.
func (c *canon) canonicalize() ([]byte, bool) {
	c.ws()
	if c.i >= len(c.in) || c.in[c.i] != '{' || !c.value(0) {
		return nil, false
	}
	c.ws()
	return c.out, c.i == len(c.in)
}

func (c *canon) ws() {
	for c.i < len(c.in) {
		switch c.in[c.i] {
		case ' ', '\t', '\n', '\r':
			c.i++
		default:
			return
		}
	}
}

// value appends the canonical form of the next value to c.out.
func (c *canon) value(depth int) bool {
	c.ws()
	if c.i >= len(c.in) || depth > maxDepth {
		return false
	}
	switch ch := c.in[c.i]; {
	case ch == '{':
		return c.object(depth)
	case ch == '[':
		return c.array(depth)
	case ch == '"':
		s, ok := c.str()
		if ok {
			c.out = append(append(append(c.out, '"'), s...), '"')
		}
		return ok
	case ch == '-' || (ch >= '0' && ch <= '9'):
		return c.integer()
	case ch == 't':
		return c.lit("true")
	case ch == 'f':
		return c.lit("false")
	case ch == 'n':
		return c.lit("null")
	}
	return false
}

func (c *canon) lit(s string) bool {
	if len(c.in)-c.i < len(s) || string(c.in[c.i:c.i+len(s)]) != s {
		return false
	}
	c.i += len(s)
	c.out = append(c.out, s...)
	return true
}

type member struct {
	key      []byte
	off, end int // the member's rendered value in c.out
}

func (c *canon) object(depth int) bool {
	c.i++ // {
	start := len(c.out)
	c.ws()
	if c.i < len(c.in) && c.in[c.i] == '}' {
		c.i++
		c.out = append(c.out, '{', '}')
		return true
	}
	var stack [16]member
	ms := stack[:0]
	for {
		c.ws()
		key, ok := c.str()
		if !ok || !ascii(key) {
			return false
		}
		c.ws()
		if c.i >= len(c.in) || c.in[c.i] != ':' {
			return false
		}
		c.i++
		off := len(c.out)
		if !c.value(depth + 1) {
			return false
		}
		ms = append(ms, member{key: key, off: off, end: len(c.out)})
		c.ws()
		if c.i >= len(c.in) {
			return false
		}
		if c.in[c.i] == ',' {
			c.i++
			continue
		}
		if c.in[c.i] != '}' {
			return false
		}
		c.i++
		break
	}
	// For ASCII names, byte order is the UTF-16 code unit order of RFC 8785 §3.2.3.
	slices.SortFunc(ms, func(a, b member) int { return bytes.Compare(a.key, b.key) })
	for k := 1; k < len(ms); k++ {
		if bytes.Equal(ms[k-1].key, ms[k].key) {
			return false // duplicate names are not I-JSON; let JCS reject them
		}
	}
	// Render the sorted object after the values, then move it over them.
	base := len(c.out)
	c.out = append(c.out, '{')
	for k, m := range ms {
		if k > 0 {
			c.out = append(c.out, ',')
		}
		c.out = append(append(append(c.out, '"'), m.key...), '"', ':')
		c.out = append(c.out, c.out[m.off:m.end]...)
	}
	c.out = append(c.out, '}')
	n := copy(c.out[start:], c.out[base:])
	c.out = c.out[:start+n]
	return true
}

func (c *canon) array(depth int) bool {
	c.i++ // [
	c.out = append(c.out, '[')
	c.ws()
	if c.i < len(c.in) && c.in[c.i] == ']' {
		c.i++
		c.out = append(c.out, ']')
		return true
	}
	for {
		if !c.value(depth + 1) {
			return false
		}
		c.ws()
		if c.i >= len(c.in) {
			return false
		}
		switch c.in[c.i] {
		case ',':
			c.i++
			c.out = append(c.out, ',')
		case ']':
			c.i++
			c.out = append(c.out, ']')
			return true
		default:
			return false
		}
	}
}

// str accepts a string without escapes or control characters whose bytes
// are valid UTF-8 (JCS writes such a string unchanged) and returns its
// content.
func (c *canon) str() ([]byte, bool) {
	if c.i >= len(c.in) || c.in[c.i] != '"' {
		return nil, false
	}
	start := c.i + 1
	for j := start; j < len(c.in); j++ {
		switch ch := c.in[j]; {
		case ch == '"':
			s := c.in[start:j]
			if !utf8.Valid(s) {
				return nil, false
			}
			c.i = j + 1
			return s, true
		case ch == '\\' || ch < 0x20 || ch == 0x7f:
			return nil, false
		}
	}
	return nil, false
}

func (c *canon) integer() bool {
	start := c.i
	if c.in[c.i] == '-' {
		c.i++
	}
	digits := c.i
	for c.i < len(c.in) && c.in[c.i] >= '0' && c.in[c.i] <= '9' {
		c.i++
	}
	n := c.i - digits
	switch {
	case n == 0 || n > 15:
		return false
	case c.in[digits] == '0' && (n > 1 || digits > start): // leading zero or -0
		return false
	case c.i < len(c.in) && (c.in[c.i] == '.' || c.in[c.i] == 'e' || c.in[c.i] == 'E'):
		return false
	}
	c.out = append(c.out, c.in[start:c.i]...)
	return true
}

func ascii(s []byte) bool {
	for _, ch := range s {
		if ch >= 0x80 {
			return false
		}
	}
	return true
}
