package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"authledger/eventstore"
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
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return r, "not a JSON object"
	}
	seen := make(map[string]bool, len(fields))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return r, "invalid JSON: " + err.Error()
		}
		name, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return r, fmt.Sprintf("field %q: invalid JSON: %v", name, err)
		}
		if seen[name] {
			return r, fmt.Sprintf("field %q appears twice", name)
		}
		seen[name] = true
		if reason := setField(&r, name, raw); reason != "" {
			return r, reason
		}
	}
	if _, err := dec.Token(); err != nil {
		return r, "invalid JSON: " + err.Error()
	}
	if _, err := dec.Token(); err != io.EOF {
		return r, "trailing data after the JSON object"
	}
	for _, f := range fields {
		if !seen[f] {
			return r, fmt.Sprintf("field %q is missing", f)
		}
	}
	return r, ""
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
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", err
	}
	return s, nil
}

func parseObject(raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 || raw[0] != '{' {
		return nil, fmt.Errorf("want a JSON object, got %s", kind(raw))
	}
	return raw, nil
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
