package eventstore

import (
	"encoding"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrNotCanonicalizable: MarshalCanonical cannot encode the value directly
// (a float, an integer beyond ±2^53, an embedded struct, a custom
// MarshalJSON, …). The caller marshals it with encoding/json instead and
// lets the store canonicalize the bytes (the library path), which also
// gives the same refusals as before.
var ErrNotCanonicalizable = errors.New("eventstore: value has no direct canonical encoding")

// MarshalCanonical encodes v as encoding/json would, but directly in its
// JCS form (RFC 8785): members sorted by their UTF-16 code units, strings
// escaped as ECMAScript does, no insignificant white space. Only integers
// within ±2^53 are accepted, never floats, so the number form is the
// decimal one in every language. The result equals
// jcs.Transform(json.Marshal(v)) byte for byte (FuzzCanonicalMatchesJCS),
// so an Event whose Data and Metadata it produced can be marked Canonical
// and the append hashes the bytes instead of parsing and re-encoding them.
func MarshalCanonical(v any) ([]byte, error) {
	e := canonEncoder{buf: make([]byte, 0, 512)} // a token event is ~400 bytes
	if err := e.value(reflect.ValueOf(v)); err != nil {
		return nil, err
	}
	return e.buf, nil
}

type canonEncoder struct{ buf []byte }

type encodeFunc func(e *canonEncoder, v reflect.Value) error

var encoders sync.Map // reflect.Type → encodeFunc

var (
	timeType          = reflect.TypeFor[time.Time]()
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

func (e *canonEncoder) value(v reflect.Value) error {
	if !v.IsValid() {
		e.buf = append(e.buf, "null"...)
		return nil
	}
	return encoderOf(v.Type())(e, v)
}

func encoderOf(t reflect.Type) encodeFunc {
	if f, ok := encoders.Load(t); ok {
		return f.(encodeFunc)
	}
	// A recursive type finds this indirection while its plan is built.
	var (
		wg sync.WaitGroup
		f  encodeFunc
	)
	wg.Add(1)
	if fi, loaded := encoders.LoadOrStore(t, encodeFunc(func(e *canonEncoder, v reflect.Value) error {
		wg.Wait()
		return f(e, v)
	})); loaded {
		return fi.(encodeFunc)
	}
	f = newEncoder(t)
	wg.Done()
	encoders.Store(t, f)
	return f
}

func unsupported(*canonEncoder, reflect.Value) error { return ErrNotCanonicalizable }

func newEncoder(t reflect.Type) encodeFunc {
	switch {
	case t == timeType:
		return func(e *canonEncoder, v reflect.Value) error {
			b, err := v.Interface().(time.Time).MarshalJSON()
			if err != nil {
				return ErrNotCanonicalizable
			}
			e.buf = append(e.buf, b...) // an RFC 3339 string: ASCII, nothing to escape
			return nil
		}
	case t.Implements(marshalerType), reflect.PointerTo(t).Implements(marshalerType):
		return unsupported
	case t.Implements(textMarshalerType):
		if t.Kind() == reflect.Pointer {
			return unsupported
		}
		return func(e *canonEncoder, v reflect.Value) error {
			b, err := v.Interface().(encoding.TextMarshaler).MarshalText()
			if err != nil {
				return ErrNotCanonicalizable
			}
			e.string(string(b))
			return nil
		}
	case reflect.PointerTo(t).Implements(textMarshalerType):
		// encoding/json calls a pointer method only on addressable values.
		return unsupported
	}
	switch t.Kind() {
	case reflect.Bool:
		return func(e *canonEncoder, v reflect.Value) error {
			e.buf = strconv.AppendBool(e.buf, v.Bool())
			return nil
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return func(e *canonEncoder, v reflect.Value) error {
			n := v.Int()
			if n > 1<<53 || n < -(1<<53) {
				return ErrNotCanonicalizable
			}
			e.buf = strconv.AppendInt(e.buf, n, 10)
			return nil
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return func(e *canonEncoder, v reflect.Value) error {
			n := v.Uint()
			if n > 1<<53 {
				return ErrNotCanonicalizable
			}
			e.buf = strconv.AppendUint(e.buf, n, 10)
			return nil
		}
	case reflect.String:
		return func(e *canonEncoder, v reflect.Value) error {
			e.string(v.String())
			return nil
		}
	case reflect.Pointer:
		elem := t.Elem()
		return func(e *canonEncoder, v reflect.Value) error {
			if v.IsNil() {
				e.buf = append(e.buf, "null"...)
				return nil
			}
			return encoderOf(elem)(e, v.Elem())
		}
	case reflect.Interface:
		return func(e *canonEncoder, v reflect.Value) error {
			if v.IsNil() {
				e.buf = append(e.buf, "null"...)
				return nil
			}
			return e.value(v.Elem())
		}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			if t.Kind() == reflect.Array || reflect.PointerTo(t.Elem()).Implements(marshalerType) || reflect.PointerTo(t.Elem()).Implements(textMarshalerType) {
				return unsupported
			}
			return func(e *canonEncoder, v reflect.Value) error {
				if v.IsNil() {
					e.buf = append(e.buf, "null"...)
					return nil
				}
				e.buf = append(e.buf, '"')
				e.buf = base64.StdEncoding.AppendEncode(e.buf, v.Bytes())
				e.buf = append(e.buf, '"')
				return nil
			}
		}
		elem := encoderOf(t.Elem())
		isSlice := t.Kind() == reflect.Slice
		return func(e *canonEncoder, v reflect.Value) error {
			if isSlice && v.IsNil() {
				e.buf = append(e.buf, "null"...)
				return nil
			}
			e.buf = append(e.buf, '[')
			for i := range v.Len() {
				if i > 0 {
					e.buf = append(e.buf, ',')
				}
				if err := elem(e, v.Index(i)); err != nil {
					return err
				}
			}
			e.buf = append(e.buf, ']')
			return nil
		}
	case reflect.Map:
		if t.Key().Kind() != reflect.String || t.Key().Implements(textMarshalerType) {
			return unsupported
		}
		elem := encoderOf(t.Elem())
		return func(e *canonEncoder, v reflect.Value) error {
			if v.IsNil() {
				e.buf = append(e.buf, "null"...)
				return nil
			}
			keys := make([]string, 0, v.Len())
			for it := v.MapRange(); it.Next(); {
				k := it.Key().String()
				if !utf8.ValidString(k) {
					// encoding/json would turn distinct keys into one.
					return ErrNotCanonicalizable
				}
				keys = append(keys, k)
			}
			slices.SortFunc(keys, compareUTF16)
			e.buf = append(e.buf, '{')
			for i, k := range keys {
				if i > 0 {
					e.buf = append(e.buf, ',')
				}
				e.string(k)
				e.buf = append(e.buf, ':')
				if err := elem(e, v.MapIndex(reflect.ValueOf(k).Convert(t.Key()))); err != nil {
					return err
				}
			}
			e.buf = append(e.buf, '}')
			return nil
		}
	case reflect.Struct:
		return structEncoder(t)
	}
	return unsupported // floats, complex numbers, channels, functions
}

// field is one struct member as encoding/json sees it.
type field struct {
	name      string
	quoted    []byte // the member name, encoded, with its colon
	index     int
	omitEmpty bool
	omitZero  bool
	enc       encodeFunc
}

func structEncoder(t reflect.Type) encodeFunc {
	var fields []field
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Anonymous {
			return unsupported // encoding/json's promotion rules are not worth copying
		}
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if !validTagName(name) {
			name = sf.Name // as encoding/json does with an empty or unusable tag name
		}
		f := field{name: name, index: i, enc: encoderOf(sf.Type)}
		for _, o := range strings.Split(opts, ",") {
			switch o {
			case "omitempty":
				f.omitEmpty = true
			case "omitzero":
				f.omitZero = true
			case "string":
				return unsupported
			}
		}
		var q canonEncoder
		q.string(name)
		f.quoted = append(q.buf, ':')
		fields = append(fields, f)
	}
	slices.SortFunc(fields, func(a, b field) int { return compareUTF16(a.name, b.name) })
	for i := 1; i < len(fields); i++ {
		if fields[i].name == fields[i-1].name {
			return unsupported // encoding/json drops both
		}
	}
	return func(e *canonEncoder, v reflect.Value) error {
		e.buf = append(e.buf, '{')
		first := true
		for i := range fields {
			f := &fields[i]
			fv := v.Field(f.index)
			if (f.omitEmpty && isEmpty(fv)) || (f.omitZero && isZero(fv)) {
				continue
			}
			if !first {
				e.buf = append(e.buf, ',')
			}
			first = false
			e.buf = append(e.buf, f.quoted...)
			if err := f.enc(e, fv); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, '}')
		return nil
	}
}

// validTagName is encoding/json's rule for a usable tag name.
func validTagName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c) && !unicode.IsLetter(c) && !unicode.IsDigit(c) {
			return false
		}
	}
	return true
}

func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

type isZeroer interface{ IsZero() bool }

var isZeroerType = reflect.TypeFor[isZeroer]()

func isZero(v reflect.Value) bool {
	if v.Type().Implements(isZeroerType) {
		if v.Kind() == reflect.Pointer && v.IsNil() {
			return true
		}
		return v.Interface().(isZeroer).IsZero()
	}
	return v.IsZero()
}

// string appends s as a JCS string (RFC 8785 §3.2.2.2): only the quote,
// the backslash and control characters are escaped, the five with a short
// form by it, the others as \u00xx; invalid UTF-8 becomes U+FFFD, as
// encoding/json makes it.
func (e *canonEncoder) string(s string) {
	const hex = "0123456789abcdef"
	e.buf = append(e.buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				e.buf = append(e.buf, s[start:i]...)
				e.buf = append(e.buf, "\ufffd"...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		e.buf = append(e.buf, s[start:i]...)
		switch c {
		case '"':
			e.buf = append(e.buf, '\\', '"')
		case '\\':
			e.buf = append(e.buf, '\\', '\\')
		case '\b':
			e.buf = append(e.buf, '\\', 'b')
		case '\f':
			e.buf = append(e.buf, '\\', 'f')
		case '\n':
			e.buf = append(e.buf, '\\', 'n')
		case '\r':
			e.buf = append(e.buf, '\\', 'r')
		case '\t':
			e.buf = append(e.buf, '\\', 't')
		default:
			e.buf = append(e.buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
		start = i
	}
	e.buf = append(e.buf, s[start:]...)
	e.buf = append(e.buf, '"')
}

// compareUTF16 orders strings by their UTF-16 code units, JCS's member
// order; for ASCII names it is the byte order.
func compareUTF16(a, b string) int {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra == rb {
			a, b = a[na:], b[nb:]
			continue
		}
		ua, ub := utf16Units(ra), utf16Units(rb)
		if ua[0] != ub[0] {
			return int(ua[0]) - int(ub[0])
		}
		return int(ua[1]) - int(ub[1])
	}
	return len(a) - len(b)
}

func utf16Units(r rune) [2]uint16 {
	if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError || r2 != utf8.RuneError {
		return [2]uint16{uint16(r1), uint16(r2)}
	}
	return [2]uint16{uint16(r), 0}
}
