package sinks

import (
	"context"
	"errors"
	"time"

	"github.com/signindiag/signindiag/schemas"
)

// ErrNotFound marks a lookup of an id that the store does not hold.
var ErrNotFound = errors.New("not found")

// SignInListQuery filters sign-ins within [From, To] (both required), the
// newest first (createdDateTime, then id). An empty filter matches all.
// After paging: only sign-ins that come after (AfterMs, AfterID) in that
// order, i.e. created before AfterMs, or at AfterMs with an id above
// AfterID (AfterMs 0: from the start).
type SignInListQuery struct {
	User      string // UPN or object id
	App       string // display name or application id
	IP        string
	ErrorCode *int
	From, To  time.Time
	AfterMs   int64
	AfterID   string
	Limit     int
}

// FindingListQuery filters findings that occurred within [From, To], the
// latest first (occurredAt to the second, as stored, then id); AfterAt
// and AfterID page as in SignInListQuery (AfterAt zero: from the start).
type FindingListQuery struct {
	User     string
	App      string
	Scenario string
	Severity string
	// Flagged, when set, keeps the findings of flagged sign-ins (true) or
	// of the others (false).
	Flagged  *bool
	From, To time.Time
	AfterAt  time.Time
	AfterID  string
	Limit    int
}

// Lister answers the list endpoints of the API.
type Lister interface {
	ListSignIns(ctx context.Context, q SignInListQuery) ([]schemas.SignIn, error)
	ListFindings(ctx context.Context, q FindingListQuery) ([]schemas.Finding, error)
}

// Feedback is an admin's verdict on a finding.
type Feedback struct {
	ID        string    `json:"id"`
	FindingID string    `json:"findingId"`
	SignInID  string    `json:"signInId"`
	Scenario  string    `json:"scenario"`
	Helpful   bool      `json:"helpful"`
	Comment   string    `json:"comment"`
	GivenBy   string    `json:"givenBy"`
	GivenAt   time.Time `json:"givenAt"`
}

// FeedbackQuery pages the feedback, the latest first; FindingID narrows
// it to one finding. Before/BeforeID: only entries given before, or at
// Before with a smaller id (zero: from now).
type FeedbackQuery struct {
	FindingID string
	Before    time.Time
	BeforeID  string
	Limit     int
}

// Acknowledgement records that an admin dealt with a flagged sign-in.
type Acknowledgement struct {
	SignInID string    `json:"signInId"`
	At       time.Time `json:"acknowledgedAt"`
	By       string    `json:"acknowledgedBy"`
	Comment  string    `json:"comment,omitempty"`
}

// Annotations stores what people say about findings and flagged sign-ins.
type Annotations interface {
	AddFeedback(ctx context.Context, f Feedback) error
	ListFeedback(ctx context.Context, q FeedbackQuery) ([]Feedback, error)
	Acknowledge(ctx context.Context, a Acknowledgement) error
	// Acknowledgements returns the latest acknowledgement of each of the
	// given sign-ins that has one.
	Acknowledgements(ctx context.Context, signInIDs []string) (map[string]Acknowledgement, error)
}
