// Package spray is the per-IP stage: it reads failed sign-ins keyed by
// source IP (rekey publishes the candidates) and runs them through the
// IP-keyed windowed detections (rules.Detections: password_spray counts,
// per IP, the distinct users failing within its window), whose incidents
// pipeline/incident keeps. Like diagnose, it stores what its windows saw
// (ip_failures) and the changed incidents, and rebuilds them from storage,
// up to the committed offset, when it takes over a partition.
package spray

import (
	"context"
	"fmt"
	"time"

	"github.com/signindiag/signindiag/pipeline/incident"
	"github.com/signindiag/signindiag/pipeline/poison"
	"github.com/signindiag/signindiag/pipeline/source"
	"github.com/signindiag/signindiag/pipeline/window"
	"github.com/signindiag/signindiag/rules"
	"github.com/signindiag/signindiag/schemas/wire"
	"github.com/signindiag/signindiag/sinks"
)

// Store is what the stage needs from storage.
type Store interface {
	sinks.Writer
	sinks.IPFailureSource
	sinks.IncidentWarmSource
}

// Counters the stage reports to; implemented by pipeline.Metrics.
type Counters interface {
	Finding(scenario string)
	Late()
	Malformed()
}

// Config of the stage.
type Config struct {
	// Detections are the windowed detections; the stage runs those keyed
	// by IP.
	Detections      []rules.Detection
	AllowedLateness time.Duration
	FutureSkew      time.Duration
	// Now is the wall clock; nil means time.Now.
	Now func() time.Time
	// Poison is where the records storage rejects go (pipeline/poison).
	Poison poison.Config
	// KeyBudget bounds the IPs the incidents track, with the process's
	// other windows (window.Budget); nil: no bound.
	KeyBudget *window.Budget
}

// Processor handles one partition of the IP-keyed topic.
type Processor struct {
	cfg       Config
	store     Store
	counters  Counters
	shard     int
	incidents *incident.Set
	batch     sinks.Batch
	marks     poison.Marks // the record each row of batch came from
	// spareMarks is the marks' memory of the batch sealed before the
	// last, reused for the next (Seal).
	spareMarks poison.Marks
	out        *poison.Writer
	records    int
	// lastOffset is the offset of the last record processed; latestMs the
	// latest event time of a candidate, the incidents' watermark before
	// its clamp to the wall clock.
	lastOffset int64
	latestMs   int64
}

// NewProcessor returns a processor for partition shard.
func NewProcessor(cfg Config, shard int, store Store, counters Counters) *Processor {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Processor{cfg: cfg, store: store, counters: counters, shard: shard, out: poison.New(store, cfg.Poison),
		incidents: incident.NewSet(incident.SetConfig{Detections: cfg.Detections, Keys: rules.KeyIP,
			AllowedLateness: cfg.AllowedLateness, FutureSkew: cfg.FutureSkew, Shard: shard, KeyBudget: cfg.KeyBudget})}
}

// Close gives the partition's keys back to the budget (the worker ends).
func (p *Processor) Close() { p.incidents.Release() }

// Warm rebuilds the per-IP incidents from storage, from the candidates
// stored before committed (the partition's committed offset): ip_failures
// holds only the candidates this stage accepted, so every row counts. The
// incidents' rows of that state were stored with it; what the rebuild
// produces is dropped.
func (p *Processor) Warm(ctx context.Context, committed int64) (int, error) {
	span, err := p.store.IncidentWarmSpan(ctx, string(rules.KeyIP), p.incidents.Names(), p.shard, committed, p.incidents.Span())
	if err != nil {
		return 0, fmt.Errorf("warm up IP incidents: %w", err)
	}
	recent, err := p.store.RecentIPFailures(ctx, p.shard, committed, span)
	if err != nil {
		return 0, fmt.Errorf("warm up IP windows: %w", err)
	}
	watermark, err := p.store.WindowWatermark(ctx, sinks.WindowIPs, p.shard, committed)
	if err != nil {
		return 0, fmt.Errorf("warm up IP windows: %w", err)
	}
	if !watermark.IsZero() {
		p.latestMs = watermark.UnixMilli()
	}
	now := p.cfg.Now()
	for _, r := range recent {
		p.incidents.Observe(rules.Candidate{IsFailure: true, UserKey: r.UserKey, IP: r.IP}, true, r.Identity, r.At, nil, now)
	}
	p.incidents.Take()
	return len(recent), nil
}

// Process handles one failed sign-in.
func (p *Processor) Process(_ context.Context, rec source.Record) error {
	p.records++
	p.lastOffset = rec.Offset
	var candidate wire.SprayCandidate
	if err := wire.DecodeSprayCandidate(rec.Value, &candidate); err != nil {
		p.counters.Malformed()
		return nil
	}
	si := candidate.SignIn() // partial: only the fields the detections and incidents read
	c := rules.CandidateOf(si, true)
	qualifies := false
	for _, d := range p.cfg.Detections {
		if d.Key == rules.KeyIP && d.Qualifies(c) {
			qualifies = true
		}
	}
	if !qualifies {
		return nil
	}
	p.latestMs = max(p.latestMs, si.CreatedDateTime.UnixMilli())
	out := p.incidents.Observe(c, false, si.Identity(), si.CreatedDateTime, si, p.cfg.Now())
	if out.Late {
		p.counters.Late()
	}
	for _, scenario := range out.Created {
		p.counters.Finding(scenario)
	}
	p.batch.IPFailures = append(p.batch.IPFailures, sinks.IPFailureRecord{IP: si.IPAddress, UserKey: si.UserKey(),
		Identity: si.Identity(), At: si.CreatedDateTime, Shard: p.shard, Offset: rec.Offset})
	p.marks.Add(rec, &p.batch)
	return nil
}

// Pending counts records read since the last seal.
func (p *Processor) Pending() int { return p.records }

// Seal moves the batch out with the incidents changed since the last seal,
// evicts what the windows no longer need, and returns the write that
// stores the batch (pipeline.Processor). The incidents stay with the
// processing goroutine; the write touches only the sealed batch.
func (p *Processor) Seal() func(context.Context) error {
	b, marks := p.batch, p.marks
	b.Incidents = append(b.Incidents, p.incidents.Take()...)
	if p.records > 0 && p.latestMs != 0 {
		// Where the windows stood at the batch's last offset, for a
		// rebuild from the committed offset (sinks.WatermarkRecord).
		b.Watermarks = []sinks.WatermarkRecord{{Stage: sinks.WindowIPs, Shard: p.shard, Offset: p.lastOffset, At: time.UnixMilli(p.latestMs).UTC()}}
	}
	// The marks' slice is reused, two alternating: the spare is the batch
	// sealed before this one, whose write has returned (Seal's contract).
	p.batch = sinks.Batch{}
	p.marks, p.spareMarks = p.spareMarks, marks
	p.marks.Reset()
	p.records = 0
	p.incidents.Evict()
	return func(ctx context.Context) error { return p.out.Write(ctx, &b, &marks) }
}

// Flush seals the batch and stores it at once, for callers without a
// pipelined loop (tests, cmd/bench-api).
func (p *Processor) Flush(ctx context.Context) error { return p.Seal()(ctx) }
