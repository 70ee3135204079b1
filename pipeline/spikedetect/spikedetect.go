// Package spikedetect raises a failure_spike incident when a failure spike
// starts, once per episode: a periodic evaluation of the recent buckets of
// every dimension through the same queries and rule as /v1/spikes
// (spikes/report), written through the incidents sink.
//
// Why periodic and not in the per-partition stream: a spike is a property
// of the whole tenant's counts, which no single partition worker sees, and
// the counts must be exact under replays and late data, which the store's
// deduplicated counts are. Evaluating every minute costs one top-N and one
// count query per dimension over a few hours of failures.
//
// Once per episode, across re-evaluations and restarts: an episode's
// incident id is deterministic (dimension, value, start); a later round
// that sees the same episode (grown, or its start moved earlier by late
// data) finds the stored incident whose span it overlaps and updates that
// one instead of opening another. Every process running the detector
// writes the same ids, so running it in several ingest processes only
// repeats writes that ReplacingMergeTree collapses.
package spikedetect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/signindiag/signindiag/rules"
	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
	"github.com/signindiag/signindiag/spikes"
	"github.com/signindiag/signindiag/spikes/report"
)

// Detection is the incidents' detection name.
const Detection = rules.ScenarioFailureSpike

// Config tunes the detector. Zero fields take the defaults.
type Config struct {
	// Every is how often the recent buckets are evaluated (1m: a spike is
	// raised within a minute of the bucket that shows it being stored).
	Every time.Duration
	// Step is the bucket width (5m: short enough to raise an outage within
	// minutes, long enough to hold tens of failures in a mid-size tenant).
	Step time.Duration
	// Lookback is how many recent buckets each round evaluates (2h: late
	// sign-ins, which Entra delivers up to an hour or two late, still make
	// the bucket they belong to a spike).
	Lookback time.Duration
	// Top is how many values of each dimension are evaluated: those with
	// the most failures over Lookback.
	Top int
	// Gap is how many quiet buckets an episode survives (2: a spike that
	// dips for ten minutes is the same outage).
	Gap int
	// Dimensions evaluated (nil: all).
	Dimensions []sinks.Dimension
	// Rule is the baseline and spike rule.
	Rule spikes.Config
}

func (c Config) withDefaults() Config {
	if c.Every <= 0 {
		c.Every = time.Minute
	}
	if c.Step <= 0 {
		c.Step = 5 * time.Minute
	}
	if c.Lookback <= 0 {
		c.Lookback = 2 * time.Hour
	}
	if c.Top <= 0 {
		c.Top = report.DefaultTop
	}
	if c.Gap <= 0 {
		c.Gap = 2
	}
	if len(c.Dimensions) == 0 {
		c.Dimensions = sinks.Dimensions
	}
	return c
}

// Store is what the detector reads and writes.
type Store interface {
	sinks.SpikeSource
	sinks.IncidentReader
	sinks.Writer
}

// Details are a failure_spike incident's facts (IncidentRecord.Details).
type Details struct {
	Dimension sinks.Dimension `json:"dimension"`
	Value     string          `json:"value"`
	Step      string          `json:"step"`
	// Count is the failures in the episode's spike buckets; PeakCount,
	// PeakBaseline and PeakScore describe its highest bucket.
	Count        int       `json:"count"`
	PeakAt       time.Time `json:"peakAt"`
	PeakCount    int       `json:"peakCount"`
	PeakBaseline float64   `json:"peakBaseline"`
	PeakScore    float64   `json:"peakScore"`
	sinks.Contributors
}

// Detector evaluates and raises.
type Detector struct {
	cfg     Config
	store   Store
	log     *slog.Logger
	now     func() time.Time
	metrics *Metrics
}

// WithMetrics makes each round export its view (metrics.go).
func (d *Detector) WithMetrics(m *Metrics) *Detector {
	d.metrics = m
	return d
}

// New returns a detector; now nil means time.Now.
func New(cfg Config, store Store, log *slog.Logger, now func() time.Time) *Detector {
	if now == nil {
		now = time.Now
	}
	return &Detector{cfg: cfg.withDefaults(), store: store, log: log, now: now}
}

// Run evaluates every cfg.Every until ctx ends. A failed round is logged
// and retried at the next tick: the detector must never stop ingestion.
func (d *Detector) Run(ctx context.Context) error {
	t := time.NewTicker(d.cfg.Every)
	defer t.Stop()
	for {
		_, err := d.Evaluate(ctx)
		if ctx.Err() == nil {
			d.metrics.round(err)
		}
		if err != nil && ctx.Err() == nil {
			d.log.Warn("failure spike detection failed; retrying at the next tick", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Evaluate runs one round at the current time and writes the incidents of
// the episodes it sees that are new or changed (grown, or widened by late
// data); it returns them.
func (d *Detector) Evaluate(ctx context.Context) ([]sinks.IncidentRecord, error) {
	now := d.now().UTC()
	var out []sinks.IncidentRecord
	var reps []*report.Report
	for _, dim := range d.cfg.Dimensions {
		rep, err := report.Build(ctx, d.store, d.cfg.Rule, report.Query{By: dim, Step: d.cfg.Step, From: now.Add(-d.cfg.Lookback), To: now, Top: d.cfg.Top})
		if err != nil {
			return nil, fmt.Errorf("spikes by %s: %w", dim, err)
		}
		reps = append(reps, rep)
		for _, s := range rep.Series {
			points := make([]spikes.Point, len(s.Buckets))
			for i, b := range s.Buckets {
				points[i] = spikes.Point{Start: b.Start, Count: float64(b.Count), Baseline: b.Baseline, Score: b.Score, Spike: b.Spike}
			}
			for _, ep := range spikes.Episodes(points, d.cfg.Step, d.cfg.Gap) {
				rec, err := d.incident(ctx, dim, s.Value, ep)
				if errors.Is(err, errUnchanged) {
					continue
				}
				if err != nil {
					return nil, err
				}
				out = append(out, rec)
			}
		}
	}
	d.metrics.observe(reps, now, d.cfg.Step, d.cfg.Gap)
	if len(out) == 0 {
		return nil, nil
	}
	if err := d.store.Write(ctx, &sinks.Batch{Incidents: out}); err != nil {
		return nil, fmt.Errorf("write failure_spike incidents: %w", err)
	}
	return out, nil
}

// errUnchanged: the episode is stored as it is.
var errUnchanged = errors.New("incident unchanged")

// Key is an incident's key: "errorCode=53003".
func Key(dim sinks.Dimension, value string) string { return string(dim) + "=" + value }

// incident builds the record of an episode, continuing the stored incident
// of the same key whose span it overlaps (or joins within Gap buckets).
func (d *Detector) incident(ctx context.Context, dim sinks.Dimension, value string, ep spikes.Episode) (sinks.IncidentRecord, error) {
	key := Key(dim, value)
	slack := time.Duration(d.cfg.Gap+1) * d.cfg.Step
	start, first := ep.Start, ep.Start
	prior, err := d.store.Incidents(ctx, sinks.IncidentQuery{Detection: Detection, Keys: []string{key}, From: ep.Start.Add(-slack), To: ep.End})
	if err != nil {
		return sinks.IncidentRecord{}, fmt.Errorf("stored failure_spike incidents of %s: %w", key, err)
	}
	count := int(ep.Count)
	last := ep.End.Add(-time.Millisecond)
	// The earliest stored incident the episode overlaps is the episode's:
	// keep its id (its start), widen its span, never lower its count (the
	// count is the version that orders an incident's states).
	unchanged := false
	for i, p := range prior {
		if i == 0 || p.Start.Before(start) {
			start = p.Start
		}
		if p.First.Before(first) {
			first = p.First
		}
		if p.Last.After(last) {
			last = p.Last
		}
		unchanged = unchanged || p.Count >= count && !p.First.After(ep.Start) && !p.Last.Before(ep.End.Add(-time.Millisecond))
		count = max(count, p.Count)
	}
	if unchanged && len(prior) == 1 {
		// Stored as it is: a round that sees an ended or unchanged episode
		// writes nothing.
		return sinks.IncidentRecord{}, errUnchanged
	}
	contrib, err := d.store.SpikeContributors(ctx, dim, value, ep.Start, ep.End, 5)
	if err != nil {
		return sinks.IncidentRecord{}, err
	}
	det := Details{Dimension: dim, Value: value, Step: report.StepName(d.cfg.Step), Count: count, PeakAt: ep.Peak.Start,
		PeakCount: int(ep.Peak.Count), PeakBaseline: ep.Peak.Baseline, PeakScore: ep.Peak.Score, Contributors: *contrib}
	raw, err := json.Marshal(det)
	if err != nil {
		return sinks.IncidentRecord{}, fmt.Errorf("encode failure_spike details: %w", err)
	}
	severity := "medium"
	if ep.Peak.Score >= 10 {
		severity = "high"
	}
	return sinks.IncidentRecord{
		ID: schemas.FindingID(Detection, key, start.UTC().Format(time.RFC3339)), Detection: Detection, Key: key,
		Start: start, First: first, Last: last, Count: count, Severity: severity,
		Title:   fmt.Sprintf("Failure spike: %s %s", label(dim), value),
		Summary: summary(dim, value, det, d.cfg.Step), Recommendations: recommendations(dim), Details: raw,
	}, nil
}

func label(dim sinks.Dimension) string {
	switch dim {
	case sinks.DimErrorCode:
		return "error code"
	case sinks.DimClientApp:
		return "client app"
	case sinks.DimIP:
		return "source IP"
	case sinks.DimAll:
		return "all sign-ins"
	}
	return string(dim)
}

func summary(dim sinks.Dimension, value string, d Details, step time.Duration) string {
	what := "Failed sign-ins"
	if dim != sinks.DimAll {
		what += " with " + label(dim) + " " + value
	}
	s := fmt.Sprintf("%s rose to %d in the %s from %s (baseline %.1f, robust z-score %.1f); %d failures in the spike so far.",
		what, d.PeakCount, report.StepName(step), d.PeakAt.Format("2006-01-02 15:04 MST"), d.PeakBaseline, d.PeakScore, d.Count)
	for _, part := range []struct {
		name string
		vals []string
	}{{"users", d.Users}, {"apps", d.Apps}, {"IPs", d.IPs}, {"error codes", d.ErrorCodes}} {
		if len(part.vals) > 0 {
			s += fmt.Sprintf(" Top %s: %s.", part.name, strings.Join(part.vals, ", "))
		}
	}
	return s
}

// recommendations are where an admin looks first for a sudden rise of each
// kind (the causes Entra's own health alerts name: a Conditional Access
// change, an expired credential, a federation or MFA outage, a spray).
func recommendations(dim sinks.Dimension) []string {
	common := "Open /v1/spikes?by=" + string(dim) + " for the series, and /v1/diagnose on a few of the top users' sign-ins for the cause."
	switch dim {
	case sinks.DimErrorCode, sinks.DimScenario:
		return []string{common, "Check Entra's audit log for Conditional Access, authentication-method and application changes made just before the spike started."}
	case sinks.DimApp, sinks.DimClientApp:
		return []string{common, "Check the application's credentials (an expired secret or certificate), its redirect URIs and recent deployments."}
	case sinks.DimCountry, sinks.DimIP:
		return []string{common, "Many users failing from few addresses is the pattern of a password spray: compare with the password_spray incidents and consider blocking the addresses with a named location."}
	}
	return []string{common, "Check the Microsoft 365 and Azure service health for an authentication or MFA incident, and federation (AD FS, PTA agents) if used."}
}
