package refreshtoken

import "authledger/domain/event"

var codec = event.NewCodec[Event]("refreshtoken", event.Lenient,
	event.Register[Started](),
	event.Register[Rotated](),
	event.Register[ReuseDetected](),
	event.Register[Revoked](),
	event.Register[Rejected](),
)

// Decode turns a stored event into its newest shape. The codec is
// lenient: an unknown type yields (nil, nil), so a stream may carry events
// this version does not know and readers skip them.
func Decode(typ string, data []byte) (Event, error) { return codec.Decode(typ, data) }
