package verifier

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// decodeObject reads data, one JSON object, in a single pass: member is
// called once per member with the decoder positioned at its value, and
// must consume that value. Names are matched exactly by member, never
// case-insensitively, and a repeated name or anything after the object
// refuses the whole input. JWS headers and JWT claim sets must have unique
// names (RFC 7515 §4, RFC 7519 §4: reject or take the last); encoding/json
// takes the last and folds case, so a token could mean one thing here and
// another to a stricter reader in front.
func decodeObject(data []byte, member func(name string, dec *json.Decoder) error) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return errors.New("not a JSON object")
	}
	seen := make(map[string]struct{}, 16)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string)
		if _, dup := seen[name]; dup {
			return fmt.Errorf("duplicate member %q", truncate(name))
		}
		seen[name] = struct{}{}
		if err := member(name, dec); err != nil {
			return fmt.Errorf("member %q: %w", truncate(name), err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the object")
	}
	return nil
}

// skipValue consumes a member nobody reads; JWT says to ignore names it
// does not understand (RFC 7519 §4), including case variants of its own.
func skipValue(dec *json.Decoder) error {
	var skip json.RawMessage
	return dec.Decode(&skip)
}

func (h *header) decode(data []byte) error {
	return decodeObject(data, func(name string, dec *json.Decoder) error {
		switch name {
		case "alg":
			return dec.Decode(&h.Alg)
		case "typ":
			return dec.Decode(&h.Typ)
		case "kid":
			return dec.Decode(&h.Kid)
		}
		return skipValue(dec)
	})
}

func (p *payload) decode(data []byte) error {
	return decodeObject(data, func(name string, dec *json.Decoder) error {
		switch name {
		case "iss":
			return dec.Decode(&p.Issuer)
		case "sub":
			return dec.Decode(&p.Subject)
		case "aud":
			return dec.Decode(&p.Audience)
		case "exp":
			return dec.Decode(&p.Expiry)
		case "iat":
			return dec.Decode(&p.IssuedAt)
		case "nbf":
			return dec.Decode(&p.NotBefore)
		case "jti":
			return dec.Decode(&p.ID)
		case "client_id":
			return dec.Decode(&p.ClientID)
		case "scope":
			return dec.Decode(&p.Scope)
		case "sid":
			return dec.Decode(&p.SessionID)
		case "auth_time":
			return dec.Decode(&p.AuthTime)
		case "acr":
			return dec.Decode(&p.ACR)
		case "amr":
			return dec.Decode(&p.AMR)
		case "cnf":
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return err
			}
			p.Cnf = &confirmation{}
			return decodeObject(raw, func(name string, dec *json.Decoder) error {
				if name == "jkt" {
					return dec.Decode(&p.Cnf.JKT)
				}
				return skipValue(dec)
			})
		}
		return skipValue(dec)
	})
}
