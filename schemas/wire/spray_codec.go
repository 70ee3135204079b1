package wire

import (
	"encoding/json"
	"fmt"

	"github.com/signindiag/signindiag/schemas"
)

// AppendSprayCandidate appends c to dst in the current format.
func AppendSprayCandidate(dst []byte, c *SprayCandidate) ([]byte, error) {
	dst = append(dst, Version, KindSprayCandidate)
	dst, err := c.MarshalMsg(dst)
	if err != nil {
		return dst, fmt.Errorf("wire: encode spray candidate: %w", err)
	}
	return dst, nil
}

// DecodeSprayCandidate reads an IP-keyed message into c (overwriting all
// of it). It also reads the legacy format, a JSON schemas.Event holding the
// whole sign-in, and keeps what a SprayCandidate carries.
func DecodeSprayCandidate(b []byte, c *SprayCandidate) error {
	*c = SprayCandidate{}
	if len(b) > 0 && b[0] == legacyJSON {
		var ev schemas.Event
		if err := json.Unmarshal(b, &ev); err != nil {
			return fmt.Errorf("wire: decode legacy JSON spray candidate: %w", err)
		}
		if ev.SignIn == nil {
			return fmt.Errorf("wire: decode legacy JSON spray candidate: no sign-in")
		}
		*c = NewSprayCandidate(ev.SignIn)
		return nil
	}
	kind, body, err := header(b)
	if err != nil {
		return fmt.Errorf("wire: decode spray candidate: %w", err)
	}
	if kind != KindSprayCandidate {
		return fmt.Errorf("wire: decode spray candidate: %w %q", ErrUnexpectedKind, kind)
	}
	return unmarshal("spray candidate", c, body)
}
