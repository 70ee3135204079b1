package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
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
// record in a batch does not lose the good ones.
type Decoded struct {
	SignIn *SignIn
	Raw    []byte
	Err    error
}

// Event is what travels on the internal, user-keyed topic: exactly one of
// its fields is set.
type Event struct {
	SignIn *SignIn `json:"signIn,omitempty"`
	Flag   *Flag   `json:"flag,omitempty"`
}

// DecodeSignIns reads one message of the sign-in topic. It accepts a Graph
// signIn object, a Graph list response ({"value":[...]}) and the Azure
// Monitor diagnostic-settings envelope ({"records":[...]}). An error means
// the message as a whole is unreadable; per-record problems are reported in
// the returned slice.
func DecodeSignIns(value []byte) ([]Decoded, error) {
	value = bytes.TrimSpace(value)
	if len(value) == 0 || value[0] != '{' {
		return nil, malformed(ReasonInvalidJSON, "message is not a JSON object")
	}
	var probe struct {
		Records []json.RawMessage `json:"records"`
		Value   []json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(value, &probe); err != nil {
		return nil, malformed(ReasonInvalidJSON, "%v", err)
	}
	switch {
	case probe.Records != nil:
		out := make([]Decoded, 0, len(probe.Records))
		for _, raw := range probe.Records {
			si, err := decodeRecord(raw)
			out = append(out, Decoded{SignIn: si, Raw: raw, Err: err})
		}
		return out, nil
	case probe.Value != nil:
		out := make([]Decoded, 0, len(probe.Value))
		for _, raw := range probe.Value {
			si, err := decodeGraph(raw)
			out = append(out, Decoded{SignIn: si, Raw: raw, Err: err})
		}
		return out, nil
	}
	si, err := decodeGraph(value)
	return []Decoded{{SignIn: si, Raw: value, Err: err}}, nil
}

func decodeGraph(raw []byte) (*SignIn, error) {
	var si SignIn
	if err := json.Unmarshal(raw, &si); err != nil {
		return nil, malformed(ReasonInvalidJSON, "%v", err)
	}
	if si.ID == "" && si.CreatedDateTime.IsZero() && si.UserID == "" {
		return nil, malformed(ReasonUnknownShape, "neither a Graph signIn nor a records/value envelope")
	}
	if si.Category == "" {
		si.Category = categoryOf(&si)
	}
	return normalise(&si)
}

// diagnosticRecord is one record of the Azure Monitor envelope: the sign-in
// sits in properties, the category and log time beside it.
type diagnosticRecord struct {
	Time          time.Time       `json:"time"`
	Category      string          `json:"category"`
	CorrelationID string          `json:"correlationId"`
	Properties    json.RawMessage `json:"properties"`
}

func decodeRecord(raw []byte) (*SignIn, error) {
	var rec diagnosticRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		return nil, malformed(ReasonInvalidJSON, "%v", err)
	}
	if len(rec.Properties) == 0 {
		return nil, malformed(ReasonUnknownShape, "diagnostic record without properties")
	}
	var si SignIn
	if err := json.Unmarshal(rec.Properties, &si); err != nil {
		return nil, malformed(ReasonInvalidJSON, "properties: %v", err)
	}
	si.Category = rec.Category
	if si.Category == "" {
		si.Category = categoryOf(&si)
	}
	if si.CreatedDateTime.IsZero() {
		si.CreatedDateTime = rec.Time
	}
	if si.CorrelationID == "" {
		si.CorrelationID = rec.CorrelationID
	}
	return normalise(&si)
}

func categoryOf(si *SignIn) string {
	switch {
	case si.ServicePrincipalID != "" && si.UserID == "":
		return CategoryServicePrincipal
	case si.IsInteractive:
		return CategoryInteractive
	}
	return CategoryNonInteractive
}

// normalise validates the fields every stage relies on and puts times on
// millisecond precision in UTC: storage keeps milliseconds, and windows must
// compare exactly what storage can answer.
func normalise(si *SignIn) (*SignIn, error) {
	if si.ID == "" {
		return nil, malformed(ReasonMissingID, "sign-in has no id")
	}
	if si.CreatedDateTime.IsZero() {
		return nil, malformed(ReasonMissingTime, "sign-in %s has no createdDateTime", si.ID)
	}
	if si.UserKey() == "" {
		return nil, malformed(ReasonMissingUser, "sign-in %s names no user or service principal", si.ID)
	}
	si.CreatedDateTime = si.CreatedDateTime.UTC().Truncate(time.Millisecond)
	return si, nil
}

// DecodeFlag reads one message of the flag topic.
func DecodeFlag(value []byte) (*Flag, error) {
	var f Flag
	if err := json.Unmarshal(bytes.TrimSpace(value), &f); err != nil {
		return nil, malformed(ReasonInvalidJSON, "%v", err)
	}
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
		f.ID = FindingID("flag", f.SignInID, f.CorrelationID, f.RequestID, f.UserKey(), f.FlaggedAt.Format(time.RFC3339Nano))
	}
	return &f, nil
}

// ReasonOf returns the dead-letter reason of a decode error.
func ReasonOf(err error) string {
	var de *DecodeError
	if errors.As(err, &de) {
		return de.Reason
	}
	return ReasonInvalidJSON
}
