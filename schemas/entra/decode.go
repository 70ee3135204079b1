// Package entra decodes what arrives on Kafka into the model of package
// schemas: Entra's sign-in shapes (Microsoft Graph signIn, the Azure
// Monitor diagnostic-settings envelope, Log Analytics rows) and
// signindiag's flag events. See README.md in this directory.
package entra

import (
	"errors"
	"fmt"
	"time"

	"github.com/signindiag/signindiag/schemas"
)

// ErrMalformed marks input that can never be processed: it goes to the
// dead-letter topic, and retrying it would not help.
var ErrMalformed = errors.New("malformed event")

// Reasons a record is dead-lettered; they label metrics and DLQ headers,
// so keep the set small and stable.
const (
	ReasonInvalidJSON  = "invalid_json"
	ReasonUnknownShape = "unknown_shape"
	ReasonMissingID    = "missing_id"
	ReasonMissingTime  = "missing_time"
	ReasonMissingUser  = "missing_user"
	ReasonTooLarge     = "too_large"
)

// DecodeError says why a record was rejected.
type DecodeError struct {
	Reason string
	Detail string
}

func (e *DecodeError) Error() string { return fmt.Sprintf("%s: %s", e.Reason, e.Detail) }

// Is makes errors.Is(err, ErrMalformed) true for every decode error.
func (e *DecodeError) Is(target error) bool { return target == ErrMalformed }

func malformed(reason, format string, args ...any) *DecodeError {
	return &DecodeError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// Decoded is one record of a message: a sign-in, or the reason it was
// rejected together with its raw bytes (for the dead-letter topic). One bad
// record in a batch does not lose the good ones. Raw is the record's exact
// span of the message (it shares the message's memory); the SignIn shares
// nothing with the message.
type Decoded struct {
	SignIn *schemas.SignIn
	Raw    []byte
	Err    error
}

// DecodeSignIns reads one message of the sign-in topic. It accepts every
// shape Entra emits (see README.md in this directory):
//
//   - a Microsoft Graph signIn object (v1.0 or beta), or a Graph list
//     response {"value":[…]};
//   - the Azure Monitor diagnostic-settings envelope {"records":[…]} of any
//     sign-in category, and a single record of it;
//   - Log Analytics rows (PascalCase columns, "dynamic" columns as JSON or
//     as JSON strings): one row, a JSON array of rows, or {"value":[rows]}.
//
// An error means the message as a whole is unreadable (invalid JSON, or
// JSON that is neither an object nor an array of objects); per-record
// problems are reported in the returned slice, each with the record's raw
// bytes. Decoded sign-ins are validated (id, time, user) and normalised
// (UTC millisecond times, Graph's enum casing, the record's category).
func DecodeSignIns(value []byte) ([]Decoded, error) {
	return decodeMessage(value)
}

// DecodeFlag reads one message of the flag topic.
func DecodeFlag(value []byte) (*schemas.Flag, error) {
	return decodeFlagMessage(value)
}

func finishFlag(f *schemas.Flag) (*schemas.Flag, error) {
	if f.SignInID == "" && f.CorrelationID == "" && f.RequestID == "" {
		return nil, malformed(ReasonMissingID, "flag names no signInId, correlationId or requestId")
	}
	if f.UserKey() == "" {
		return nil, malformed(ReasonMissingUser, "flag names no userId or userPrincipalName")
	}
	if f.FlaggedAt.IsZero() {
		return nil, malformed(ReasonMissingTime, "flag has no flaggedAt")
	}
	f.FlaggedAt = f.FlaggedAt.UTC().Truncate(time.Millisecond)
	if f.ID == "" {
		f.ID = schemas.FindingID("flag", f.SignInID, f.CorrelationID, f.RequestID, f.UserKey(), f.FlaggedAt.Format(time.RFC3339Nano))
	}
	return f, nil
}

// ReasonOf returns the dead-letter reason of a decode error.
func ReasonOf(err error) string {
	var de *DecodeError
	if errors.As(err, &de) {
		return de.Reason
	}
	return ReasonInvalidJSON
}
