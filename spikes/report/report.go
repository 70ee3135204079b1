// Package report builds the failure series with their baselines and
// spikes, as /v1/spikes, `signindiag spikes`, the failure_spike detector
// and cmd/bench-spikes all read them: one code path, so they agree.
package report

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/signindiag/signindiag/sinks"
	"github.com/signindiag/signindiag/spikes"
)

// Steps are the bucket widths a report may use, by their API name.
var Steps = map[string]time.Duration{"5m": 5 * time.Minute, "15m": 15 * time.Minute, "1h": time.Hour}

// MaxTop bounds the series of one report; MaxBuckets its length (a year of
// hours, a month of 5 minutes).
const (
	MaxTop     = 50
	DefaultTop = 10
	MaxBuckets = 9000
)

// Query asks for the top Top values of a dimension in [From, To), in
// buckets of Step, counting failures or the population Of names.
type Query struct {
	By       sinks.Dimension
	Of       sinks.Population
	Step     time.Duration
	From, To time.Time
	Top      int
}

// Bucket is one bucket of a series.
type Bucket struct {
	Start    time.Time `json:"start"`
	Count    int       `json:"count"`
	Baseline float64   `json:"baseline"`
	Score    float64   `json:"score"`
	Spike    bool      `json:"spike"`
}

// Series is one value's buckets; Total is its count over the range.
type Series struct {
	Value   string   `json:"value"`
	Total   int      `json:"total"`
	Buckets []Bucket `json:"buckets"`
}

// Report is the answer of /v1/spikes.
type Report struct {
	By     sinks.Dimension  `json:"by"`
	Of     sinks.Population `json:"of"`
	Step   string           `json:"step"`
	From   time.Time        `json:"from"`
	To     time.Time        `json:"to"`
	Series []Series         `json:"series"`
}

// StepName is the API name of a step ("15m").
func StepName(d time.Duration) string {
	for name, s := range Steps {
		if s == d {
			return name
		}
	}
	return d.String()
}

// Align widens [from, to) to whole buckets of step (aligned on the Unix
// epoch, as the store's buckets are).
func Align(from, to time.Time, step time.Duration) (time.Time, time.Time) {
	from = from.UTC().Truncate(step)
	if t := to.UTC().Truncate(step); t.Before(to) {
		to = t.Add(step)
	} else {
		to = t
	}
	return from, to
}

// topValues are the values a report shows: the store ranks failures; the
// other populations are ranked here from their counts over the range.
func topValues(ctx context.Context, src sinks.SpikeSource, q Query, from, to time.Time) ([]string, error) {
	if q.By == sinks.DimAll {
		return []string{"all"}, nil
	}
	var ranked []sinks.ValueCount
	if q.Of == sinks.OfFailures {
		top, err := src.TopValues(ctx, q.By, from, to, q.Top)
		if err != nil {
			return nil, err
		}
		ranked = top
	} else {
		counts, err := src.FailureCounts(ctx, sinks.CountQuery{By: q.By, Of: q.Of, Step: to.Sub(from), From: from, To: to})
		if err != nil {
			return nil, err
		}
		totals := map[string]int{}
		for _, c := range counts {
			totals[c.Value] += c.Count
		}
		for v, n := range totals {
			ranked = append(ranked, sinks.ValueCount{Value: v, Count: n})
		}
		sort.Slice(ranked, func(i, j int) bool {
			if ranked[i].Count != ranked[j].Count {
				return ranked[i].Count > ranked[j].Count
			}
			return ranked[i].Value < ranked[j].Value
		})
		ranked = ranked[:min(q.Top, len(ranked))]
	}
	values := make([]string, len(ranked))
	for i, v := range ranked {
		values[i] = v.Value
	}
	return values, nil
}

// Build runs the queries and the spike rule. The range is aligned to
// whole buckets; the counts reach cfg.History() further back for the
// baselines.
func Build(ctx context.Context, src sinks.SpikeSource, cfg spikes.Config, q Query) (*Report, error) {
	if q.Step <= 0 || !q.From.Before(q.To) {
		return nil, fmt.Errorf("%w: step %s, range %s to %s", sinks.ErrInvalidQuery, q.Step, q.From, q.To)
	}
	if q.Top <= 0 {
		q.Top = DefaultTop
	}
	from, to := Align(q.From, q.To, q.Step)
	if n := int(to.Sub(from) / q.Step); n > MaxBuckets {
		return nil, fmt.Errorf("%w: %d buckets of %s, at most %d", sinks.ErrInvalidQuery, n, q.Step, MaxBuckets)
	}
	if q.Of == "" {
		q.Of = sinks.OfFailures
	}
	rep := &Report{By: q.By, Of: q.Of, Step: StepName(q.Step), From: from, To: to, Series: []Series{}}
	values, err := topValues(ctx, src, q, from, to)
	if err != nil {
		return nil, err
	}
	if len(values) == 0 {
		return rep, nil
	}
	histStart := from.Add(-cfg.History()).Truncate(q.Step)
	var within [][2]time.Time
	for _, sp := range cfg.Needed(from, to) {
		within = append(within, [2]time.Time{sp.From.Truncate(q.Step), sp.To})
	}
	counts, err := src.FailureCounts(ctx, sinks.CountQuery{By: q.By, Of: q.Of, Values: values, Step: q.Step, From: histStart, To: to, Within: within})
	if err != nil {
		return nil, err
	}
	n := int(to.Sub(histStart) / q.Step)
	first := int(from.Sub(histStart) / q.Step)
	dense := make(map[string][]float64, len(values))
	for _, v := range values {
		dense[v] = make([]float64, n)
	}
	for _, c := range counts {
		i := int(c.Start.Sub(histStart) / q.Step)
		if d, ok := dense[c.Value]; ok && i >= 0 && i < n {
			d[i] += float64(c.Count)
		}
	}
	for _, v := range values {
		points := spikes.Evaluate(cfg, spikes.Series{Start: histStart, Step: q.Step, Counts: dense[v]}, first)
		s := Series{Value: v, Buckets: make([]Bucket, len(points))}
		for i, p := range points {
			s.Buckets[i] = Bucket{Start: p.Start, Count: int(p.Count), Baseline: round2(p.Baseline), Score: round2(p.Score), Spike: p.Spike}
			s.Total += int(p.Count)
		}
		rep.Series = append(rep.Series, s)
	}
	return rep, nil
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }
