package wire

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tinylib/msgp/msgp"

	"github.com/signindiag/signindiag/schemas"
)

// Version is the format version this build writes, the first byte of
// every message value. Version 0 is never written (so a zeroed value
// fails), and '{' marks the legacy JSON format.
const Version byte = 1

// Kinds of message, the second byte of a value.
const (
	KindSignIn         byte = 's'
	KindFlag           byte = 'f'
	KindSprayCandidate byte = 'c'
)

// legacyJSON is the first byte of a value written before this format: a
// JSON object.
const legacyJSON byte = '{'

// Errors a decoder wraps; match them with errors.Is.
var (
	ErrUnknownVersion = errors.New("unknown wire format version")
	ErrUnexpectedKind = errors.New("unexpected message kind")
	ErrTrailingBytes  = errors.New("trailing bytes after message")
	ErrEmptyEvent     = errors.New("event carries neither a sign-in nor a flag")
)

// AppendEvent appends ev, a sign-in or a flag (exactly one set), to dst
// in the current format and returns the extended buffer.
func AppendEvent(dst []byte, ev *schemas.Event) ([]byte, error) {
	var err error
	switch {
	case ev.SignIn != nil && ev.Flag != nil:
		return dst, errors.New("wire: encode event: both a sign-in and a flag are set")
	case ev.SignIn != nil:
		dst = append(dst, Version, KindSignIn)
		dst, err = ev.SignIn.MarshalMsg(dst)
	case ev.Flag != nil:
		dst = append(dst, Version, KindFlag)
		dst, err = ev.Flag.MarshalMsg(dst)
	default:
		return dst, fmt.Errorf("wire: encode event: %w", ErrEmptyEvent)
	}
	if err != nil {
		return dst, fmt.Errorf("wire: encode event: %w", err)
	}
	return dst, nil
}

// DecodeEvent reads a user-keyed message, in the current or the legacy
// JSON format, into ev. Exactly one of ev.SignIn and ev.Flag is set on
// success. A sign-in or flag already in ev is zeroed and reused (so do not
// keep a pointer to it across calls); the decoded value shares no memory
// with b or with earlier values, so b may be reused at once.
func DecodeEvent(b []byte, ev *schemas.Event) error {
	if len(b) > 0 && b[0] == legacyJSON {
		*ev = schemas.Event{}
		if err := json.Unmarshal(b, ev); err != nil {
			return fmt.Errorf("wire: decode legacy JSON event: %w", err)
		}
		if (ev.SignIn == nil) == (ev.Flag == nil) {
			return fmt.Errorf("wire: decode legacy JSON event: %w", ErrEmptyEvent)
		}
		return nil
	}
	kind, body, err := header(b)
	if err != nil {
		return fmt.Errorf("wire: decode event: %w", err)
	}
	switch kind {
	case KindSignIn:
		si := ev.SignIn
		if si == nil {
			si = new(schemas.SignIn)
		} else {
			*si = schemas.SignIn{}
		}
		*ev = schemas.Event{SignIn: si}
		return unmarshal("sign-in", si, body)
	case KindFlag:
		f := ev.Flag
		if f == nil {
			f = new(schemas.Flag)
		} else {
			*f = schemas.Flag{}
		}
		*ev = schemas.Event{Flag: f}
		return unmarshal("flag", f, body)
	}
	*ev = schemas.Event{}
	return fmt.Errorf("wire: decode event: %w %q", ErrUnexpectedKind, kind)
}

// header checks the version byte and returns the kind and the body.
func header(b []byte) (kind byte, body []byte, err error) {
	switch {
	case len(b) == 0:
		return 0, nil, fmt.Errorf("empty value: %w", msgp.ErrShortBytes)
	case b[0] != Version:
		return 0, nil, fmt.Errorf("%w %d (this build reads %d and legacy JSON)", ErrUnknownVersion, b[0], Version)
	case len(b) < 2:
		return 0, nil, fmt.Errorf("no kind byte: %w", msgp.ErrShortBytes)
	}
	return b[1], b[2:], nil
}

// unmarshal decodes body, which must hold exactly one value, into v.
func unmarshal(what string, v msgp.Unmarshaler, body []byte) error {
	rest, err := v.UnmarshalMsg(body)
	if err != nil {
		return fmt.Errorf("wire: decode %s: %w", what, err)
	}
	if len(rest) != 0 {
		return fmt.Errorf("wire: decode %s: %w (%d)", what, ErrTrailingBytes, len(rest))
	}
	return nil
}

// IsCurrent reports whether b is a sign-in event in this version of the
// format, so a consumer may keep the bytes as they are (e.g. to store
// them) instead of encoding the decoded sign-in again.
func IsCurrent(b []byte) bool { return len(b) >= 2 && b[0] == Version && b[1] == KindSignIn }

// DecodeSignInDocument reads a stored sign-in document: the wire encoding
// the pipeline writes, or JSON (what stores held before it, or another
// tool wrote). Every store reads its documents through it.
func DecodeSignInDocument(doc []byte) (*schemas.SignIn, error) {
	if len(doc) > 0 && doc[0] == '{' {
		var si schemas.SignIn
		if err := json.Unmarshal(doc, &si); err != nil {
			return nil, err
		}
		return &si, nil
	}
	var ev schemas.Event
	if err := DecodeEvent(doc, &ev); err != nil {
		return nil, err
	}
	if ev.SignIn == nil {
		return nil, errors.New("the document holds no sign-in")
	}
	return ev.SignIn, nil
}
