package refreshtoken

import (
	"encoding/json"
	"fmt"
)

// Decode turns a stored event into its type; unknown types yield (nil, nil)
// so a stream may carry events this version does not know.
func Decode(typ string, data []byte) (Event, error) {
	var e Event
	var err error
	switch typ {
	case TypeStarted:
		var v Started
		err = json.Unmarshal(data, &v)
		e = v
	case TypeRotated:
		var v Rotated
		err = json.Unmarshal(data, &v)
		e = v
	case TypeReuseDetected:
		var v ReuseDetected
		err = json.Unmarshal(data, &v)
		e = v
	case TypeRevoked:
		var v Revoked
		err = json.Unmarshal(data, &v)
		e = v
	case TypeRejected:
		var v Rejected
		err = json.Unmarshal(data, &v)
		e = v
	default:
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("refreshtoken: decode %s: %w", typ, err)
	}
	return e, nil
}
