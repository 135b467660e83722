// Package strictjson decodes untrusted JSON request bodies strictly.
//
// encoding/json is lenient in ways that matter when a body is read by more
// than one parser (a filter in front, an audit log, the handler): the last
// of two duplicate keys wins, a key matches a field case-insensitively, and
// a Decoder stops after the first value, ignoring what follows. Two parsers
// can then read different requests from the same bytes. Unmarshal refuses
// every such body, so there is only one reading of any body it accepts:
//
//   - invalid UTF-8 (RFC 8259 §8.1) and anything that is not one JSON value;
//   - data after the value;
//   - a top-level value that is not an object;
//   - a key repeated inside one object, at any depth (RFC 8259 §4 leaves
//     duplicates to the implementation; we refuse them, as RFC 7493 I-JSON
//     §2.3 requires);
//   - a key that names no field of the target struct, and a key that differs
//     from a field's name only by case (both are unknown fields to a strict
//     reader, but a case variant is reported as such);
//   - values of the wrong type, and nesting deeper than MaxDepth.
package strictjson

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// MaxDepth bounds nesting (objects and arrays), far above what any
// documented body needs.
const MaxDepth = 32

// Sentinels, one per failure mode; *Error wraps exactly one of them.
var (
	ErrSyntax        = errors.New("strictjson: not valid JSON")
	ErrTrailingData  = errors.New("strictjson: data after the JSON value")
	ErrNotObject     = errors.New("strictjson: not a JSON object")
	ErrDuplicateKey  = errors.New("strictjson: duplicate key")
	ErrUnknownField  = errors.New("strictjson: unknown field")
	ErrCaseVariant   = errors.New("strictjson: key differs from a field name only by case")
	ErrType          = errors.New("strictjson: wrong value type")
	ErrTooDeep       = errors.New("strictjson: nested too deep")
	errInvalidTarget = errors.New("strictjson: target must be a non-nil pointer")
)

// Error says why and where a body was refused. Path is a JSON Pointer
// (RFC 6901) to the offending member: "" for the whole body, "/amr/0", …
// Key is the key as sent, for duplicates, unknown fields and case variants.
type Error struct {
	Err  error
	Path string
	Key  string
	// Want is the field name a case variant was mistaken for.
	Want string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Err.Error())
	if e.Key != "" {
		b.WriteString(" " + strconv.Quote(clip(e.Key)))
	}
	if e.Want != "" {
		b.WriteString(" (the field is " + strconv.Quote(e.Want) + ")")
	}
	if e.Path != "" {
		b.WriteString(" at " + clip(e.Path))
	}
	return b.String()
}

// maxEcho bounds how much of a caller's key or path an error repeats, so
// a huge key cannot make the answer (or a log line) huge.
const maxEcho = 64

func clip(s string) string {
	if len(s) <= maxEcho {
		return s
	}
	cut := maxEcho
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func (e *Error) Unwrap() error { return e.Err }

// Detail is Error without the package prefix, for an API answer.
func (e *Error) Detail() string { return strings.TrimPrefix(e.Error(), "strictjson: ") }

// Unmarshal decodes data, which must be one JSON object, into v (a non-nil
// pointer) under the rules of the package comment. On error v may be
// partly written; callers discard it.
func Unmarshal(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return errInvalidTarget
	}
	if err := check(data, rv.Type().Elem()); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields() // already refused above; kept as a second guard
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return &Error{Err: ErrType, Path: pointer(te.Field)}
		}
		return &Error{Err: ErrType} // e.g. a time that does not parse
	}
	return nil
}

// Check applies the syntax rules (one object, no trailing data, no
// duplicate keys, bounded depth) without a target: for bodies whose schema
// belongs to someone else, such as a webhook's.
func Check(data []byte) error { return check(data, nil) }

func check(data []byte, t reflect.Type) error {
	if !utf8.Valid(data) {
		return &Error{Err: ErrSyntax}
	}
	if !json.Valid(data) {
		// json.Valid refuses trailing data too; say which it was.
		dec := json.NewDecoder(bytes.NewReader(data))
		var raw json.RawMessage
		if dec.Decode(&raw) == nil {
			return &Error{Err: ErrTrailingData}
		}
		return &Error{Err: ErrSyntax}
	}
	if first := bytes.TrimLeft(data, " \t\r\n"); len(first) == 0 || first[0] != '{' {
		return &Error{Err: ErrNotObject}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	w := walker{dec: dec}
	return w.value(t, "", 0)
}

type walker struct{ dec *json.Decoder }

// value reads one value whose target type is t (nil: any shape, only the
// syntax rules apply).
func (w *walker) value(t reflect.Type, path string, depth int) error {
	tok, err := w.dec.Token()
	if err != nil {
		return &Error{Err: ErrSyntax, Path: path}
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil // a scalar; its type is Unmarshal's to check
	}
	if depth >= MaxDepth {
		return &Error{Err: ErrTooDeep, Path: path}
	}
	t = deref(t)
	switch d {
	case '{':
		return w.object(t, path, depth)
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; w.dec.More(); i++ {
			if err := w.value(elem, path+"/"+strconv.Itoa(i), depth+1); err != nil {
				return err
			}
		}
		_, err := w.dec.Token() // ']'
		return err
	}
	return &Error{Err: ErrSyntax, Path: path}
}

func (w *walker) object(t reflect.Type, path string, depth int) error {
	var fields *fieldSet
	var elem reflect.Type
	if t != nil {
		switch t.Kind() {
		case reflect.Struct:
			fields = structFields(t)
		case reflect.Map:
			elem = t.Elem()
		}
	}
	seen := map[string]bool{}
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return &Error{Err: ErrSyntax, Path: path}
		}
		key, _ := tok.(string)
		at := path + "/" + escape(key)
		if seen[key] {
			return &Error{Err: ErrDuplicateKey, Path: path, Key: key}
		}
		seen[key] = true
		child := elem
		if fields != nil {
			f, ok := fields.byName[key]
			if !ok {
				if want, ok := fields.byFold[strings.ToLower(key)]; ok {
					return &Error{Err: ErrCaseVariant, Path: path, Key: key, Want: want}
				}
				return &Error{Err: ErrUnknownField, Path: path, Key: key}
			}
			child = f
		}
		if err := w.value(child, at, depth+1); err != nil {
			return err
		}
	}
	_, err := w.dec.Token() // '}'
	return err
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// deref follows pointers and returns nil for types that decode themselves
// (json.RawMessage, time.Time, …) or take any shape (interfaces): their
// keys are checked for duplicates only.
func deref(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() == reflect.Interface {
		return nil
	}
	if t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) ||
		t.Implements(textUnmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return nil
	}
	return t
}

type fieldSet struct {
	byName map[string]reflect.Type // exact JSON names → field type
	byFold map[string]string       // lower-cased name → the exact name
}

var fieldCache sync.Map // reflect.Type → *fieldSet

// structFields lists the JSON names encoding/json gives t's fields: the
// tag's name, else the Go name; "-" and unexported fields skipped; fields of
// untagged embedded structs promoted.
func structFields(t reflect.Type) *fieldSet {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.(*fieldSet)
	}
	fs := &fieldSet{byName: map[string]reflect.Type{}, byFold: map[string]string{}}
	var add func(t reflect.Type, depth int)
	add = func(t reflect.Type, depth int) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct && depth < 8 {
					add(ft, depth+1)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if _, dup := fs.byName[name]; dup {
				continue // the shallower field wins, as in encoding/json
			}
			fs.byName[name] = f.Type
			fs.byFold[strings.ToLower(name)] = name
		}
	}
	add(t, 0)
	actual, _ := fieldCache.LoadOrStore(t, fs)
	return actual.(*fieldSet)
}

// pointer turns encoding/json's dotted field path into a JSON Pointer.
func pointer(field string) string {
	if field == "" {
		return ""
	}
	parts := strings.Split(field, ".")
	for i, p := range parts {
		parts[i] = escape(p)
	}
	return "/" + strings.Join(parts, "/")
}

// escape encodes one JSON Pointer reference token (RFC 6901 §3).
func escape(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}
