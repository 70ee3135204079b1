package sinks

import (
	"context"
	"time"
)

// Dimension is what failure counts are split by (/v1/spikes?by=).
type Dimension string

// The dimensions of failure counts. DimAll is the tenant-wide count, one
// series with the value "all".
const (
	DimErrorCode Dimension = "errorCode"
	DimScenario  Dimension = "scenario"
	DimApp       Dimension = "app"
	DimClientApp Dimension = "clientApp"
	DimCountry   Dimension = "country"
	DimIP        Dimension = "ip"
	DimAll       Dimension = "all"
)

// Dimensions lists every dimension, in the order the API documents them.
var Dimensions = []Dimension{DimErrorCode, DimScenario, DimApp, DimClientApp, DimCountry, DimIP, DimAll}

// Population is what a count counts.
type Population string

// The populations of counts. OfFailures is the default (and the zero
// value); OfFindings counts the sign-ins that have a diagnosis (a
// finding of their own; incidents are listed apart, /v1/incidents).
const (
	OfFailures Population = "failures"
	OfSignIns  Population = "signins"
	OfFindings Population = "findings"
)

// Populations lists every population, in the order the API documents them.
var Populations = []Population{OfFailures, OfSignIns, OfFindings}

// CountQuery selects counts per bucket of Step (aligned on the Unix
// epoch) in [From, To), by event time, of some values of a dimension
// (none: all values): of failed sign-ins, or, with Of, of all sign-ins or
// of those with a finding.
type CountQuery struct {
	By       Dimension
	Of       Population
	Values   []string
	Step     time.Duration
	From, To time.Time
	// Within, when set, narrows [From, To) to these half-open ranges: a
	// baseline reads only the days it needs.
	Within [][2]time.Time
}

// Count is the number of distinct sign-ins (failed ones, unless the
// query's Of says otherwise) of one value in the bucket starting at Start.
// Empty buckets are absent.
type Count struct {
	Start time.Time
	Value string
	Count int
}

// ValueCount is a dimension's value with its failures in a range.
type ValueCount struct {
	Value string
	Count int
}

// Contributors are the users, apps, source IPs and error codes with the
// most failures within a spike, most first.
type Contributors struct {
	Users      []string `json:"users"`
	Apps       []string `json:"apps"`
	IPs        []string `json:"ips"`
	ErrorCodes []string `json:"errorCodes"`
}

// SpikeSource answers failure counts by event time. Counts are exact under
// replays: a sign-in stored twice counts once, and a re-emitted sign-in
// counts once, in the bucket of its latest version. A backend may keep
// counting a failed version in its bucket when a later version succeeded
// or moved to another bucket (ClickHouse does: docs/spikes.md, "Known
// limit"); sinks/sinkstest does not test that case.
type SpikeSource interface {
	// FailureCounts counts the failures, or the population q.Of names.
	FailureCounts(ctx context.Context, q CountQuery) ([]Count, error)
	// TopValues and SpikeContributors rank failures.
	TopValues(ctx context.Context, by Dimension, from, to time.Time, n int) ([]ValueCount, error)
	SpikeContributors(ctx context.Context, by Dimension, value string, from, to time.Time, n int) (*Contributors, error)
}
