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
	// Failures48hPartial is true when Failures48h is a lower bound: the
	// sign-in arrived after its window had moved on (later than the allowed
	// lateness). Storage prefers a complete computation of the same finding
	// to a partial one, whatever order they were written in.
	Failures48hPartial bool `json:"failures48hPartial,omitempty"`
	Flagged            bool `json:"flagged"`
	// Policies are the applied Conditional Access policies that mattered
	// to this finding (failed it, required MFA, …).
	Policies []PolicySummary `json:"policies,omitempty"`
	// Evidence backs windowed findings: the counts, and what the
	// failures behind them have in common. Filled at read time from
	// storage, so it is exact whatever order events arrived in.
	Evidence *Evidence `json:"evidence,omitempty"`
	// IncidentID names the incident of a windowed detection this result
	// reports (the same for every member sign-in); MemberSignInIDs are
	// the sign-ins of the response that are its members.
	IncidentID      string   `json:"incidentId,omitempty"`
	MemberSignInIDs []string `json:"memberSignInIds,omitempty"`
	// UserKey is the storage grouping key (see SignIn.UserKey).
	UserKey string `json:"-"`
}

// PolicySummary is an applied Conditional Access policy as a finding
// reports it.
type PolicySummary struct {
	ID            string   `json:"id,omitempty"`
	DisplayName   string   `json:"displayName"`
	Result        string   `json:"result"`
	GrantControls []string `json:"grantControls,omitempty"`
	// ConditionsSatisfied is the comma list Entra reports.
	ConditionsSatisfied string `json:"conditionsSatisfied,omitempty"`
}

// Evidence summarises the failures in a finding's window.
type Evidence struct {
	Failures    int       `json:"failures"`
	WindowStart time.Time `json:"windowStart"`
	WindowEnd   time.Time `json:"windowEnd"`
	TopApps     []Count   `json:"topApps,omitempty"`
	TopIPs      []Count   `json:"topIpAddresses,omitempty"`
	TopDevices  []Count   `json:"topDevices,omitempty"`
	TopClients  []Count   `json:"topClientApps,omitempty"`
	TopCodes    []Count   `json:"topErrorCodes,omitempty"`
	TopUsers    []Count   `json:"topUsers,omitempty"`
	// DistinctUsers counts the users among the failures.
	DistinctUsers int `json:"distinctUsers,omitempty"`
}

// Count is one value and how often it occurred.
type Count struct {
	Value string `json:"value"`
	Count int    `json:"count"`
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
