package event_test

import (
	"strings"
	"testing"

	"authledger/domain/event"
)

type ev interface{ EventType() string }

type started struct {
	ID string `json:"id"`
}

func (started) EventType() string { return "thing.started.v1" }

type notAnEvent struct{}

func TestCodec(t *testing.T) {
	c := event.NewCodec("thing",
		event.Of[started, ev]("thing.started.v1"),
		event.Of[notAnEvent, ev]("thing.broken.v1"),
	)
	tests := []struct {
		name      string
		typ, data string
		want      ev
		known     bool
		errPart   string
	}{
		{"a listed type decodes into its Go value", "thing.started.v1", `{"id":"a"}`, started{ID: "a"}, true, ""},
		{"an unlisted type is unknown, not an error", "thing.renamed.v1", `{}`, nil, false, ""},
		{"bad JSON names the package and the type", "thing.started.v1", `{"id":1}`, nil, true, "thing: decode thing.started.v1"},
		{"a Go type that is no event is refused", "thing.broken.v1", `{}`, nil, true, "does not implement"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, known, err := c.Decode(tt.typ, []byte(tt.data))
			if known != tt.known {
				t.Fatalf("known = %v, want %v", known, tt.known)
			}
			if tt.errPart != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errPart) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.errPart)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %#v, %v; want %#v", got, err, tt.want)
			}
		})
	}
	if n := len(c.Types()); n != 2 {
		t.Fatalf("Types() has %d names, want 2", n)
	}
}
