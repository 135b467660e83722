package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/authledger/authledger/eventstore"
)

// MaxLineBytes bounds one export line. An event's data plus metadata is at
// most eventstore.MaxEventBytes; the rest is room for the envelope and JSON
// escapes. The bound keeps a hostile export from exhausting memory.
const MaxLineBytes = 4*eventstore.MaxEventBytes + 64<<10

// Decoder reads an export strictly: every line must be one JSON object with
// exactly the envelope's fields, each of the right type. It checks form, not
// the chain; feed its records to a Verifier for that.
type Decoder struct {
	sc   *bufio.Scanner
	line int
	err  error
}

// NewDecoder reads JSON lines from r.
func NewDecoder(r io.Reader) *Decoder {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineBytes)
	return &Decoder{sc: sc}
}

// Line is the 1-based number of the line last read.
func (d *Decoder) Line() int { return d.line }

// Next returns the next record, io.EOF after the last line, or a
// *DecodeError naming the first malformed line.
func (d *Decoder) Next() (eventstore.Record, error) {
	if d.err != nil {
		return eventstore.Record{}, d.err
	}
	if !d.sc.Scan() {
		d.err = io.EOF
		if err := d.sc.Err(); err != nil {
			reason := err.Error()
			if errors.Is(err, bufio.ErrTooLong) {
				reason = fmt.Sprintf("longer than %d bytes", MaxLineBytes)
			}
			d.err = &DecodeError{Line: d.line + 1, Reason: reason}
		}
		return eventstore.Record{}, d.err
	}
	d.line++
	r, reason := parseLine(d.sc.Bytes())
	if reason != "" {
		d.err = &DecodeError{Line: d.line, Reason: reason}
		return eventstore.Record{}, d.err
	}
	return r, nil
}

// ParseLine parses one export line (without its newline) strictly.
func ParseLine(b []byte) (eventstore.Record, error) {
	r, reason := parseLine(b)
	if reason != "" {
		return eventstore.Record{}, &DecodeError{Line: 1, Reason: reason}
	}
	return r, nil
}

func parseLine(b []byte) (eventstore.Record, string) {
	var r eventstore.Record
	if len(bytes.TrimSpace(b)) == 0 {
		return r, "empty line"
	}
	if !utf8.Valid(b) {
		// encoding/json would silently replace the bad bytes, changing what
		// the hash covers.
		return r, "not valid UTF-8"
	}
	// A hand-rolled scan of the envelope: encoding/json's token API cost
	// more than hashing. Values are still validated by encoding/json
	// (strings with escapes, data and metadata), and a fuzz test holds this
	// scanner to a token-API reference.
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return r, "not a JSON object"
	}
	i = skipWS(b, i+1)
	var seen [10]bool
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			if i >= len(b) || b[i] != '"' {
				return r, "invalid JSON: want a member name"
			}
			end, ok := stringEnd(b, i)
			if !ok {
				return r, "invalid JSON: unterminated member name"
			}
			name, err := parseString(b[i:end])
			if err != nil {
				return r, "invalid JSON: " + err.Error()
			}
			i = skipWS(b, end)
			if i >= len(b) || b[i] != ':' {
				return r, fmt.Sprintf("invalid JSON: want ':' after %q", name)
			}
			i = skipWS(b, i+1)
			vend, ok := valueEnd(b, i)
			if !ok {
				return r, fmt.Sprintf("field %q: invalid JSON", name)
			}
			raw := b[i:vend]
			if (raw[0] == '{' || raw[0] == '[') && !json.Valid(raw) {
				return r, fmt.Sprintf("field %q: invalid JSON", name)
			}
			idx := slices.Index(fields, name)
			if idx >= 0 && seen[idx] {
				return r, fmt.Sprintf("field %q appears twice", name)
			}
			if idx >= 0 {
				seen[idx] = true
			}
			if reason := setField(&r, name, raw); reason != "" {
				return r, reason
			}
			i = skipWS(b, vend)
			if i >= len(b) {
				return r, "invalid JSON: unexpected end of line"
			}
			if b[i] == '}' {
				i++
				break
			}
			if b[i] != ',' {
				return r, "invalid JSON: want ',' or '}' after a member"
			}
			i = skipWS(b, i+1)
		}
	}
	if skipWS(b, i) != len(b) {
		return r, "trailing data after the JSON object"
	}
	for k, f := range fields {
		if !seen[k] {
			return r, fmt.Sprintf("field %q is missing", f)
		}
	}
	return r, ""
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// stringEnd returns the index after the closing quote of the string that
// starts at b[i].
func stringEnd(b []byte, i int) (int, bool) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return 0, false
}

// valueEnd returns the index after the JSON value starting at b[i]. It
// only delimits; callers validate what they keep.
func valueEnd(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, ok := stringEnd(b, j)
				if !ok {
					return 0, false
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, true
				}
			}
		}
		return 0, false
	default:
		j := i
		for j < len(b) && (b[j] == '-' || b[j] == '+' || b[j] == '.' || (b[j] >= '0' && b[j] <= '9') || (b[j] >= 'a' && b[j] <= 'z') || (b[j] >= 'A' && b[j] <= 'Z')) {
			j++
		}
		return j, j > i
	}
}

func setField(r *eventstore.Record, name string, raw json.RawMessage) string {
	var err error
	switch name {
	case "position":
		r.Position, err = parseUint(raw)
	case "version":
		r.Version, err = parseUint(raw)
	case "stream":
		r.Stream, err = parseString(raw)
	case "id":
		r.ID, err = parseString(raw)
	case "type":
		r.Type, err = parseString(raw)
	case "prev_hash":
		r.PrevHash, err = parseString(raw)
	case "hash":
		r.Hash, err = parseString(raw)
	case "recorded_at":
		var s string
		if s, err = parseString(raw); err == nil {
			r.RecordedAt, err = eventstore.ParseTime(s)
		}
	case "data":
		r.Data, err = parseObject(raw)
	case "metadata":
		r.Metadata, err = parseObject(raw)
	default:
		return fmt.Sprintf("unknown field %q", name)
	}
	if err != nil {
		return fmt.Sprintf("field %q: %v", name, err)
	}
	return ""
}

func parseUint(raw json.RawMessage) (uint64, error) {
	for _, c := range raw {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("want a positive integer, got %s", kind(raw))
		}
	}
	n, err := strconv.ParseUint(string(raw), 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("want a positive integer below 2^64, got %.40s", raw)
	}
	return n, nil
}

func parseString(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", fmt.Errorf("want a string, got %s", kind(raw))
	}
	if plain(raw) {
		return string(raw[1 : len(raw)-1]), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", err
	}
	return s, nil
}

// plain reports whether raw is a complete JSON string without escapes or
// control characters, whose content is then its bytes as they are.
func plain(raw []byte) bool {
	if len(raw) < 2 || raw[len(raw)-1] != '"' {
		return false
	}
	for _, c := range raw[1 : len(raw)-1] {
		if c == '\\' || c == '"' || c < 0x20 {
			return false
		}
	}
	return true
}

func parseObject(raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 || raw[0] != '{' {
		return nil, fmt.Errorf("want a JSON object, got %s", kind(raw))
	}
	// raw points into the scanner's buffer, which the next line overwrites.
	return append(json.RawMessage(nil), raw...), nil
}

// kind names a JSON value's type for error messages, never its content,
// which may be personal data.
func kind(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch c := raw[0]; {
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	default:
		return "a number that is not a positive integer"
	}
}

// VerifyExport decodes an export and verifies its chain in one pass. A
// malformed line is reported as an *Error at the position the chain had
// reached, wrapping the *DecodeError that names the line.
func VerifyExport(r io.Reader, opt Options) (eventstore.Head, error) {
	v := NewVerifier(opt)
	d := NewDecoder(r)
	batch := make([]eventstore.Record, 0, exportBatch)
	for {
		rec, err := d.Next()
		if err == nil {
			if batch = append(batch, rec); len(batch) < exportBatch {
				continue
			}
		}
		// Check what decoded before reporting a malformed line, so a chain
		// break earlier in the export is the one named.
		if berr := v.AddBatch(batch); berr != nil {
			return eventstore.Head{}, berr
		}
		batch = batch[:0]
		switch {
		case err == io.EOF:
			return v.Finish()
		case err != nil:
			return eventstore.Head{}, v.fail(err.Error(), err)
		}
	}
}

// exportBatch is how many decoded records VerifyExport hashes at once.
const exportBatch = 512
