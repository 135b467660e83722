package event_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/authledger/authledger/domain/event"
)

type ev interface{ EventType() string }

// started is the newest shape: v2 renamed "id" to "thing" and added Since,
// which v2 events always carry and v2 events recorded before it existed
// lack.
type started struct {
	Thing string    `json:"thing"`
	Since time.Time `json:"since,omitzero"`
	At    time.Time `json:"at"`
}

func (started) EventType() string { return "thing.started.v2" }

// startedV1 is the shape stored as thing.started.v1.
type startedV1 struct {
	ID string    `json:"id"`
	At time.Time `json:"at"`
}

type stopped struct{}

func (stopped) EventType() string { return "thing.stopped.v1" }

func fromV1(o startedV1) started { return started{Thing: o.ID, Since: o.At, At: o.At} }

// sinceAt fills Since for v2 events recorded before it existed.
func sinceAt(s started) started {
	if s.Since.IsZero() {
		s.Since = s.At
	}
	return s
}

var errThingUnknown = errors.New("thing: unknown event type")

func TestCodec(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	later := at.Add(time.Hour)
	entries := []event.Entry{
		event.Register[started](),
		event.Register[stopped](),
		event.Upcast("thing.started.v1", fromV1),
		event.Upcast("thing.started.v2", sinceAt),
	}
	lenient := event.NewCodec[ev]("thing", event.Lenient(), entries...)
	strict := event.NewCodec[ev]("thing", event.Strict(nil), entries...)
	strictOwn := event.NewCodec[ev]("thing", event.Strict(errThingUnknown), entries...)
	tests := []struct {
		name      string
		codec     event.Codec[ev]
		typ, data string
		want      ev
		errIs     []error
		errPart   string
	}{
		{name: "a registered type decodes under the name its EventType gives", codec: lenient,
			typ: "thing.stopped.v1", data: `{}`, want: stopped{}},
		{name: "an old versioned name is upcast to the newest shape", codec: lenient,
			typ: "thing.started.v1", data: `{"id":"a","at":"2026-01-02T03:04:05Z"}`, want: started{Thing: "a", Since: at, At: at}},
		{name: "an old shape under the newest name is upcast too", codec: lenient,
			typ: "thing.started.v2", data: `{"thing":"a","at":"2026-01-02T03:04:05Z"}`, want: started{Thing: "a", Since: at, At: at}},
		{name: "the newest shape passes its upcaster unchanged", codec: lenient,
			typ: "thing.started.v2", data: `{"thing":"a","since":"2026-01-02T04:04:05Z","at":"2026-01-02T03:04:05Z"}`, want: started{Thing: "a", Since: later, At: at}},
		{name: "a lenient codec skips an unknown type without an error", codec: lenient,
			typ: "thing.renamed.v1", data: `{}`, want: nil},
		{name: "a strict codec refuses an unknown type", codec: strict,
			typ: "thing.renamed.v1", data: `{}`, errIs: []error{event.ErrUnknownType}, errPart: `thing: unknown event type "thing.renamed.v1"`},
		{name: "a strict codec's error also matches the package's sentinel, and reads as it", codec: strictOwn,
			typ: "thing.renamed.v1", data: `{}`, errIs: []error{event.ErrUnknownType, errThingUnknown}, errPart: `thing: unknown event type: "thing.renamed.v1"`},
		{name: "bad JSON names the package and the type", codec: strict,
			typ: "thing.started.v1", data: `{"id":1}`, errPart: "thing: decode thing.started.v1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.codec.Decode(tt.typ, []byte(tt.data))
			if tt.errIs != nil || tt.errPart != "" {
				if err == nil {
					t.Fatalf("decoded %#v, want an error", got)
				}
				for _, target := range tt.errIs {
					if !errors.Is(err, target) {
						t.Errorf("err = %v, want it to match %v", err, target)
					}
				}
				if tt.errIs != nil {
					var ute *event.UnknownTypeError
					if !errors.As(err, &ute) || ute.Type != tt.typ || ute.Package != "thing" {
						t.Errorf("err = %#v, want an *event.UnknownTypeError naming %s", err, tt.typ)
					}
				}
				if !strings.Contains(err.Error(), tt.errPart) {
					t.Errorf("err = %v, want it to contain %q", err, tt.errPart)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %#v, %v; want %#v", got, err, tt.want)
			}
		})
	}
	if n := len(lenient.Types()); n != 3 {
		t.Fatalf("Types() has %d names, want 3", n)
	}
	if !lenient.Knows("thing.started.v1") || lenient.Knows("thing.renamed.v1") {
		t.Fatal("Knows does not follow the table")
	}
	if lenient.Policy().IsStrict() || !strict.Policy().IsStrict() {
		t.Fatal("the policies are not the ones chosen")
	}
}

type other struct{}

func (other) EventType() string { return "other.thing.v1" }

// onlyThings is a package event interface that other does not implement.
type onlyThings interface {
	EventType() string
	thing()
}

func (started) thing() {}

func TestNewCodecRefusesAWrongTable(t *testing.T) {
	for name, build := range map[string]func(){
		"a type registered twice": func() {
			event.NewCodec[ev]("thing", event.Lenient(), event.Register[stopped](), event.Register[stopped]())
		},
		"two upcasters of one name": func() {
			event.NewCodec[ev]("thing", event.Lenient(), event.Register[started](),
				event.Upcast("thing.started.v1", fromV1), event.Upcast("thing.started.v1", fromV1))
		},
		"an upcaster to an unregistered type": func() {
			event.NewCodec[ev]("thing", event.Lenient(), event.Upcast("thing.started.v1", fromV1))
		},
		"a type that is not an event of the package": func() {
			event.NewCodec[onlyThings]("thing", event.Lenient(), event.Register[started](), event.Register[other]())
		},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("NewCodec accepted the table")
				}
			}()
			build()
		})
	}
}
