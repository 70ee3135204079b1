package sinks

import (
	"context"
	"encoding/json"
	"time"
)

// IncidentRecord is one version of a windowed detection's incident (see
// pipeline/incident for the semantics). Its ID is deterministic (detection,
// key, start); Version grows with its member count, so a later state
// replaces an earlier one whatever the order rows are written in, and a
// superseded incident (a late event merged it into an earlier one) carries
// SupersededBy and the highest version.
type IncidentRecord struct {
	ID        string
	Detection string
	Key       string
	// Start is when the count first reached the threshold; First and Last
	// are the earliest and latest members' event times. A sign-in of the
	// key that qualifies for the detection and lies in [First, Last] is a
	// member.
	Start, First, Last time.Time
	Count              int
	SupersededBy       string
	// Shard is the partition of the internal topic the incident was
	// computed on: a worker taking it over finds its open incidents.
	Shard           int
	Severity        string
	Title           string
	Summary         string
	Recommendations []string
	// Details are detection-specific facts, stored and returned as given
	// (failure_spike: its dimension, value, counts and contributors).
	Details json.RawMessage
}

// SupersededVersion is the version of a superseded incident: above any
// live version.
const SupersededVersion = uint64(1) << 62

// Version orders an incident's rows: members only ever join an incident,
// so the member count orders its states.
func (r *IncidentRecord) Version() uint64 {
	if r.SupersededBy != "" {
		return SupersededVersion
	}
	return uint64(r.Count)
}

// IncidentQuery selects incidents, newest start first: of one detection
// (empty: all) and some keys (none: all), whose members' time span
// [First, Last] overlaps [From, To] (zero: unbounded), at most Limit,
// after the page cursor (start and id of the last incident of the
// previous page).
type IncidentQuery struct {
	Detection  string
	Keys       []string
	From, To   time.Time
	Limit      int
	AfterStart time.Time
	AfterID    string
}

// IncidentReader reads incidents back; superseded ones are left out.
type IncidentReader interface {
	Incidents(ctx context.Context, q IncidentQuery) ([]IncidentRecord, error)
}

// IncidentWarmSource lets a worker that takes over a partition find how
// far back its rebuild must read so that every incident still open at the
// committed offset is rebuilt from its first member: the span, back from
// the latest event stored from the shard before beforeOffset, covering
// base and the first member of every incident of these detections whose
// last member is within base of it. keys names the stage's events table
// ("user": signins, "ip": ip_failures).
type IncidentWarmSource interface {
	IncidentWarmSpan(ctx context.Context, keys string, detections []string, shard int, beforeOffset int64, base time.Duration) (time.Duration, error)
}
