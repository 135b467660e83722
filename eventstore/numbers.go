package eventstore

import (
	"encoding/json"
	"strconv"
	"strings"
)

// maxSafe is 2^53 as significant digits: 0.9007199254740992 × 10^16. Every
// integer of magnitude at most 2^53 is an exact IEEE 754 double, so JCS
// (RFC 8785), which reads numbers as doubles, hashes it as written in every
// language; beyond it, neighbours share a double and so a digest.
const (
	maxSafeDigits   = "9007199254740992"
	maxSafeExponent = 16
)

// maxScanDepth is encoding/json's nesting limit, so the scan accepts what
// json.Valid accepts.
const maxScanDepth = 10000

// jsonScan validates one JSON text (RFC 8259), as json.Valid does, and in
// the same pass finds the first number whose magnitude exceeds 2^53. It
// replaces json.Valid on the append path rather than adding a parse.
type jsonScan struct {
	b []byte
	i int
	// unsafeAt is the offset of the first number beyond ±2^53, or -1.
	unsafeAt int
	// track keeps path, the steps to where the scan is; only the rescan
	// that names an unsafe number pays for it.
	track bool
	path  []pathStep
	named string // the path of the number at unsafeAt, once tracked
}

// pathStep is a member name (the raw JSON string, quotes included) or an
// array index.
type pathStep struct {
	key   []byte
	index int
}

// scanJSON reports whether b is one valid JSON text and, when it holds a
// number beyond ±2^53, that number's path after root (e.g. root.a[2].b).
func scanJSON(b []byte, root string) (unsafePath string, valid bool) {
	s := jsonScan{b: b, unsafeAt: -1}
	if !s.document() {
		return "", false
	}
	if s.unsafeAt < 0 {
		return "", true
	}
	// Rare: scan again, tracking the path, to name the number.
	named := jsonScan{b: b, unsafeAt: s.unsafeAt, track: true}
	named.document()
	return root + named.named, true
}

func (s *jsonScan) document() bool {
	s.ws()
	if !s.value(0) {
		return false
	}
	s.ws()
	return s.i == len(s.b)
}

func (s *jsonScan) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *jsonScan) value(depth int) bool {
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '{':
		return s.object(depth + 1)
	case c == '[':
		return s.array(depth + 1)
	case c == '"':
		_, ok := s.str()
		return ok
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	}
	return false
}

func (s *jsonScan) lit(want string) bool {
	if len(s.b)-s.i < len(want) || string(s.b[s.i:s.i+len(want)]) != want {
		return false
	}
	s.i += len(want)
	return true
}

// member reads what follows a member of an object or array: a comma (more
// to come) or the closing byte (done, and the path step is popped);
// anything else is invalid (ok false).
func (s *jsonScan) member(closing byte) (done, ok bool) {
	s.ws()
	if s.i >= len(s.b) {
		return false, false
	}
	switch s.b[s.i] {
	case ',':
		s.i++
		s.ws()
		return false, true
	case closing:
		s.i++
		if s.track {
			s.path = s.path[:len(s.path)-1]
		}
		return true, true
	default:
		return false, false
	}
}

func (s *jsonScan) object(depth int) bool {
	if depth > maxScanDepth {
		return false
	}
	s.i++ // {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return true
	}
	if s.track {
		s.path = append(s.path, pathStep{})
	}
	for {
		key, ok := s.str()
		if !ok {
			return false
		}
		if s.track {
			s.path[len(s.path)-1] = pathStep{key: key}
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return false
		}
		s.i++
		s.ws()
		if !s.value(depth) {
			return false
		}
		if done, ok := s.member('}'); !ok || done {
			return ok
		}
	}
}

func (s *jsonScan) array(depth int) bool {
	if depth > maxScanDepth {
		return false
	}
	s.i++ // [
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return true
	}
	if s.track {
		s.path = append(s.path, pathStep{})
	}
	for n := 0; ; n++ {
		if s.track {
			s.path[len(s.path)-1] = pathStep{index: n}
		}
		if !s.value(depth) {
			return false
		}
		if done, ok := s.member(']'); !ok || done {
			return ok
		}
	}
}

// str scans a string and returns it with its quotes. Bytes are not checked
// for UTF-8 here: the caller checks the whole document once.
func (s *jsonScan) str() ([]byte, bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	start := s.i
	for j := s.i + 1; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			return s.b[start:s.i], true
		case c < 0x20:
			return nil, false
		case c == '\\':
			j++
			if j >= len(s.b) {
				return nil, false
			}
			switch s.b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(s.b) || !isHex(s.b[j+1]) || !isHex(s.b[j+2]) || !isHex(s.b[j+3]) || !isHex(s.b[j+4]) {
					return nil, false
				}
				j += 4
			default:
				return nil, false
			}
		}
	}
	return nil, false
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? and records
// its path if its exact value is beyond ±2^53.
func (s *jsonScan) number() bool {
	b, start := s.b, s.i
	if s.track {
		if start == s.unsafeAt {
			s.named = s.pathString()
		}
		// Skip it: the first pass has judged every number.
		for s.i < len(b) && strings.IndexByte("+-.0123456789eE", b[s.i]) >= 0 {
			s.i++
		}
		return true
	}
	if b[s.i] == '-' {
		s.i++
	}
	intStart := s.i
	switch {
	case s.i >= len(b):
		return false
	case b[s.i] == '0':
		s.i++
	case b[s.i] >= '1' && b[s.i] <= '9':
		for s.i < len(b) && b[s.i] >= '0' && b[s.i] <= '9' {
			s.i++
		}
	default:
		return false
	}
	intPart := b[intStart:s.i]
	var frac, exp []byte
	expNeg := false
	if s.i < len(b) && b[s.i] == '.' {
		s.i++
		start := s.i
		for s.i < len(b) && b[s.i] >= '0' && b[s.i] <= '9' {
			s.i++
		}
		if s.i == start {
			return false
		}
		frac = b[start:s.i]
	}
	if s.i < len(b) && (b[s.i] == 'e' || b[s.i] == 'E') {
		s.i++
		if s.i < len(b) && (b[s.i] == '+' || b[s.i] == '-') {
			expNeg = b[s.i] == '-'
			s.i++
		}
		start := s.i
		for s.i < len(b) && b[s.i] >= '0' && b[s.i] <= '9' {
			s.i++
		}
		if s.i == start {
			return false
		}
		exp = b[start:s.i]
	}
	// The common case, an integer of at most 15 digits, is safe at a glance.
	if (len(intPart) < maxSafeExponent && frac == nil && exp == nil) || s.unsafeAt >= 0 {
		return true
	}
	if beyondSafe(intPart, frac, exp, expNeg) {
		s.unsafeAt = start
	}
	return true
}

// beyondSafe reports whether the decimal intPart.frac × 10^(±exp) has
// magnitude above 2^53, exactly (no rounding through a double: 2^53+1
// rounds to 2^53).
func beyondSafe(intPart, frac, exp []byte, expNeg bool) bool {
	digit := func(k int) byte { // the k-th digit of intPart followed by frac
		if k < len(intPart) {
			return intPart[k]
		}
		if k -= len(intPart); k < len(frac) {
			return frac[k]
		}
		return '0'
	}
	n := len(intPart) + len(frac)
	lead := 0
	for lead < n && digit(lead) == '0' {
		lead++
	}
	if lead == n {
		return false // zero, whatever its exponent
	}
	// An exponent past a billion puts the value far from 2^53 either way;
	// saturating keeps the arithmetic in range.
	e := 0
	for _, c := range exp {
		if e = e*10 + int(c-'0'); e > 1e9 {
			e = 1e9
			break
		}
	}
	if expNeg {
		e = -e
	}
	// value = 0.d₁d₂… × 10^point with d₁ the first non-zero digit.
	point := len(intPart) - lead + e
	switch {
	case point < maxSafeExponent:
		return false
	case point > maxSafeExponent:
		return true
	}
	for k := 0; lead+k < n || k < len(maxSafeDigits); k++ {
		d, m := digit(lead+k), byte('0')
		if k < len(maxSafeDigits) {
			m = maxSafeDigits[k]
		}
		if d != m {
			return d > m
		}
	}
	return false // exactly 2^53
}

// pathString renders the current path as .name and [index] steps, quoting
// a name that is not a plain identifier (["a b"]). Names are decoded from
// their JSON form; long ones are cut, as the path goes into an error.
func (s *jsonScan) pathString() string {
	var sb strings.Builder
	for _, p := range s.path {
		if p.key == nil {
			sb.WriteByte('[')
			sb.WriteString(strconv.Itoa(p.index))
			sb.WriteByte(']')
			continue
		}
		var name string
		if json.Unmarshal(p.key, &name) != nil {
			name = string(p.key[1 : len(p.key)-1])
		}
		if len(name) > 64 {
			name = strings.ToValidUTF8(name[:64], "") + "…"
		}
		if isIdent(name) {
			sb.WriteByte('.')
			sb.WriteString(name)
		} else {
			sb.WriteByte('[')
			sb.WriteString(strconv.Quote(name))
			sb.WriteByte(']')
		}
	}
	return sb.String()
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}
