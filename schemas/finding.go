package schemas

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Finding is one diagnostic result: what happened to a sign-in and what to
// do about it. Its ID is deterministic, so a replayed event rewrites the
// same finding instead of adding one.
type Finding struct {
	ID                string    `json:"id"`
	SignInID          string    `json:"signInId"`
	CorrelationID     string    `json:"correlationId"`
	UserID            string    `json:"userId"`
	UserPrincipalName string    `json:"userPrincipalName"`
	AppID             string    `json:"appId"`
	AppDisplayName    string    `json:"appDisplayName"`
	OccurredAt        time.Time `json:"occurredAt"`
	Scenario          string    `json:"scenario"`
	Severity          string    `json:"severity"`
	Title             string    `json:"title"`
	Summary           string    `json:"summary"`
	Recommendations   []string  `json:"recommendations"`
	ErrorCode         int       `json:"errorCode"`
	ErrorCodeURL      string    `json:"errorCodeUrl,omitempty"`
	Failures48h       int       `json:"failures48h"`
	Flagged           bool      `json:"flagged"`
	// UserKey is the storage grouping key (see SignIn.UserKey).
	UserKey string `json:"-"`
}

// Severities, from "nothing to do" to "act now".
const (
	SeverityInfo   = "info"
	SeverityLow    = "low"
	SeverityMedium = "medium"
	SeverityHigh   = "high"
)

// FindingID derives a finding's id from the parts that make it unique.
// SHA-256 keeps it stable across versions and processes; 32 hex characters
// are plenty against collisions at our volumes.
func FindingID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}
