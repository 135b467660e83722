package refreshtoken

import "authledger/domain/event"

var codec = event.NewCodec("refreshtoken",
	event.Of[Started, Event](TypeStarted),
	event.Of[Rotated, Event](TypeRotated),
	event.Of[ReuseDetected, Event](TypeReuseDetected),
	event.Of[Revoked, Event](TypeRevoked),
	event.Of[Rejected, Event](TypeRejected),
)

// Decode turns a stored event into its type; unknown types yield (nil, nil)
// so a stream may carry events this version does not know.
func Decode(typ string, data []byte) (Event, error) {
	e, _, err := codec.Decode(typ, data)
	return e, err
}
