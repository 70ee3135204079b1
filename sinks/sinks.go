// Package sinks declares how the pipeline stores what it learns and how the
// query API reads it back. The interfaces name no backend; Store is the
// whole contract a backend implements (ClickHouse: sinks/clickhouse).
// sinks/sinkstest is its conformance suite: every backend runs it, so each
// query the API, the spike detector and the window rebuild make returns
// the same results on every backend. Unit tests of the stages use small
// fakes of the parts they need; the end-to-end tests run against a real
// backend.
package sinks

import (
	"context"
	"errors"
	"time"

	"github.com/signindiag/signindiag/schemas"
)

// ErrInvalidQuery marks a query the store cannot answer as asked.
var ErrInvalidQuery = errors.New("invalid query")

// ErrPermanent marks a write error that retrying cannot fix (a missing
// table or column, a rejected statement, a message the broker refuses as
// too large, a denied authorisation): the pipeline stops on it rather than
// retrying forever, and never commits past it. Stores and the Kafka
// publisher share it, so the loop needs to know neither.
var ErrPermanent = errors.New("permanent error, retrying cannot fix it")

// ErrRejected marks a write that storage refused because of what some of
// its rows hold (a time outside what a column can store, a value the
// server cannot parse), not because of the schema or the connection: the
// same batch fails again however often it is retried, but the same batch
// without those rows succeeds. The pipeline splits such a batch to store
// the rest and dead-letter the offending records (pipeline/poison).
// Errors that every row would meet (a missing table or column, a denied
// authorisation) wrap ErrPermanent instead.
var ErrRejected = errors.New("rows rejected by storage")

// SignInRecord is a sign-in as the diagnose stage stores it: with the
// catalogue's failure verdict and its position in the user-keyed topic,
// which lets a restarted worker rebuild its window from storage.
type SignInRecord struct {
	SignIn    schemas.SignIn
	IsFailure bool
	Shard     int   // partition of the user-keyed topic
	Offset    int64 // offset in that partition
	// Doc is the sign-in already encoded for storage (schemas/wire), as
	// it arrived on the internal topic, so the store need not encode it
	// again; empty means the store encodes SignIn.
	Doc []byte
}

// Batch is what one flush makes durable.
type Batch struct {
	SignIns    []SignInRecord
	Flags      []schemas.Flag
	Findings   []schemas.Finding
	IPFailures []IPFailureRecord
	Incidents  []IncidentRecord
	// Watermarks record, with the batch, where each window stood at its
	// last offset; they are bookkeeping, not rows of the batch (Len does
	// not count them).
	Watermarks []WatermarkRecord
}

// WatermarkRecord is a windowed stage's watermark (the latest event time
// it had seen) after the record at Offset of its partition Shard. Stage is
// the window's key kind: WindowUsers or WindowIPs.
type WatermarkRecord struct {
	Stage  string
	Shard  int
	Offset int64
	At     time.Time
}

// The windows whose watermarks are recorded.
const (
	WindowUsers = "user" // the diagnose stage's per-user windows
	WindowIPs   = "ip"   // the spray stage's per-IP windows
)

// Len counts the rows of a batch.
func (b *Batch) Len() int {
	return len(b.SignIns) + len(b.Flags) + len(b.Findings) + len(b.IPFailures) + len(b.Incidents)
}

// Writer stores batches. Write is synchronous: nil means every row is
// durable. An error wrapping ErrRejected means some rows are at fault and
// the others may be stored without them; ErrPermanent, that no retry can
// succeed; any other error is transient. It is idempotent: writing the same rows again (a replay after a
// crash) leaves the store as if they had been written once. It must not
// keep the batch or its slices after it returns: the caller reuses them.
type Writer interface {
	Write(ctx context.Context, b *Batch) error
}

// FailureRecord is one stored failed sign-in, as a window needs it.
type FailureRecord struct {
	UserKey string
	// Identity is the sign-in's (category, id), as SignIn.Identity.
	Identity  string
	At        time.Time
	ErrorCode int
	// AppID and Device (as the device column stores it) let detections
	// split a user's failures (rules.Detection.Split).
	AppID  string
	Device string
}

// IPFailureRecord is a failed sign-in as the per-IP (password spray)
// stage stores it, with its position in the IP-keyed topic.
type IPFailureRecord struct {
	IP       string
	UserKey  string
	Identity string
	At       time.Time
	Shard    int
	Offset   int64
}

// IPFailureSource lets a spray worker rebuild its per-IP windows, as
// FailureSource does for users (duplicates included).
type IPFailureSource interface {
	RecentIPFailures(ctx context.Context, shard int, beforeOffset int64, span time.Duration) ([]IPFailureRecord, error)
	WatermarkSource
}

// WatermarkSource gives the watermark a window had on shard after its last
// batch stored before beforeOffset (see WatermarkRecord); the zero time
// when it stored nothing there. A rebuilt window starts from it, so its
// lateness decisions equal the live window's.
type WatermarkSource interface {
	WindowWatermark(ctx context.Context, window string, shard int, beforeOffset int64) (time.Time, error)
}

// FailureSource lets a worker that takes over a partition rebuild its
// window: the failed sign-ins stored from that shard before offset, within
// span of the watermark the window had there (the latest event time, as
// recorded with the batches; see WatermarkRecord). A failure stored more
// than once (a replay) may come back more than once: the window drops
// duplicates. Each copy is the row as stored at its offset, whatever a
// later copy of the same sign-in says.
type FailureSource interface {
	RecentFailures(ctx context.Context, shard int, beforeOffset int64, span time.Duration) ([]FailureRecord, error)
	WatermarkSource
}

// SignInQuery selects sign-ins. Either an id (CorrelationID, RequestID, the
// sign-in id), or a User with an optional App, within [From, To].
type SignInQuery struct {
	CorrelationID string
	RequestID     string
	User          string // UPN or object id
	App           string // display name or application id
	From, To      time.Time
	Limit         int
}

// Reader answers the query API. Results are deduplicated: a sign-in or
// finding written twice is returned once.
type Reader interface {
	// SignIns returns matching sign-ins, newest first, with
	// FlaggedForReview set when a flag event names them.
	SignIns(ctx context.Context, q SignInQuery) ([]schemas.SignIn, error)
	// Findings returns the findings of the given sign-ins.
	Findings(ctx context.Context, signIns []schemas.SignIn) ([]schemas.Finding, error)
	// FailureCount counts the user's distinct failed sign-ins in (from, to].
	FailureCount(ctx context.Context, user string, from, to time.Time) (int, error)
	// Flagged returns flagged sign-ins (flaggedForReview, or named by a
	// flag event), the most recently flagged first.
	Flagged(ctx context.Context, q FlaggedQuery) ([]FlaggedSignIn, error)
	// Evidence summarises the failures behind a windowed finding.
	Evidence(ctx context.Context, q EvidenceQuery) (*schemas.Evidence, error)
	IncidentReader
}

// FlaggedQuery pages the flagged sign-ins, ordered by their latest flag's
// (time, id), newest first: those whose flag comes after the cursor
// (Before, BeforeID) in that order, i.e. flagged before Before, or at
// Before with a flag id below BeforeID (zero Before: now). A page holds
// Limit flagged sign-ins (more only so that the sign-ins of one flag are
// never split across pages), fewer only at the end of the queue: flags
// that name no stored sign-in (yet: a flag may arrive first) are passed
// over, so a short page always means there is no next one.
type FlaggedQuery struct {
	Before   time.Time
	BeforeID string
	Limit    int
}

// FlaggedSignIn is a sign-in with its latest flag.
type FlaggedSignIn struct {
	SignIn    schemas.SignIn
	FlaggedAt time.Time
	FlaggedBy string
	// FlagID is the id of that flag: with FlaggedAt, the paging cursor.
	FlagID string
}

// EvidenceQuery selects the failures in (From, To] of one user (UserKey)
// or from one IP address, optionally of some error codes only.
type EvidenceQuery struct {
	UserKey  string
	IP       string
	From, To time.Time
	Codes    []int
}
