// Package diagnose is the per-user stage (after rekey, beside spray): it
// reads the user-keyed topic, runs each sign-in through its user's window
// and the rules, and through the user-keyed windowed detections
// (rules.Detections: excessive_failures_48h, mfa_fatigue) whose incidents
// pipeline/incident keeps, and stores the sign-in, its findings, any flags
// and the changed incidents in one batch per flush (sealed, then written
// while the next batch is processed: pipeline.Processor). A worker that
// takes over a partition first rebuilds the window and the incidents from
// storage, from the rows stored before the committed offset (back to the
// first member of every incident still open), so counts and incidents
// after a restart or rebalance equal those of an uninterrupted run.
package diagnose

import (
	"context"
	"fmt"
	"time"

	"github.com/signindiag/signindiag/pipeline/incident"
	"github.com/signindiag/signindiag/pipeline/poison"
	"github.com/signindiag/signindiag/pipeline/source"
	"github.com/signindiag/signindiag/pipeline/window"
	"github.com/signindiag/signindiag/rules"
	"github.com/signindiag/signindiag/rules/catalog"
	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/schemas/wire"
	"github.com/signindiag/signindiag/sinks"
)

// Store is what the stage needs from storage.
type Store interface {
	sinks.Writer
	sinks.FailureSource
	sinks.IncidentWarmSource
}

// Config of the stage.
type Config struct {
	Window          time.Duration
	AllowedLateness time.Duration
	// Detections are the windowed detections; the stage runs those keyed
	// by user.
	Detections []rules.Detection
	// FutureSkew bounds the incidents' watermark past the wall clock.
	FutureSkew time.Duration
	// Now is the wall clock; nil means time.Now.
	Now func() time.Time
	// Poison is where the records storage rejects go (pipeline/poison).
	Poison poison.Config
	// KeyBudget bounds the users the process's windows track together;
	// nil means no bound.
	KeyBudget *window.Budget
}

// Counters the stage reports to; implemented by pipeline.Metrics.
type Counters interface {
	SignIn()
	Flag()
	Finding(scenario string)
	Late()
	WindowChange(keysDelta, evicted int)
	// Malformed counts an internal-topic record that does not decode: a
	// bug or a foreign producer, never Entra input (rekey validated that).
	Malformed()
}

// Processor diagnoses one partition of the keyed topic.
type Processor struct {
	cfg       Config
	store     Store
	engine    *rules.Engine
	catalog   *catalog.Catalog
	counters  Counters
	shard     int
	win       *window.Window
	incidents *incident.Set
	keys      int // window keys last reported
	batch     sinks.Batch
	marks     poison.Marks // the record each row of batch came from
	// spare is the memory of the batch sealed before the last, reused
	// for the next (Seal).
	spare struct {
		signIns []sinks.SignInRecord
		marks   poison.Marks
	}
	out     *poison.Writer
	records int
	// lastOffset is the offset of the last record processed.
	lastOffset int64
	event      schemas.Event // reused by Process
}

// NewProcessor returns a processor for partition shard, with an empty
// window; call Warm before Process.
func NewProcessor(cfg Config, shard int, store Store, engine *rules.Engine, cat *catalog.Catalog, counters Counters) *Processor {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Processor{cfg: cfg, store: store, engine: engine, catalog: cat, counters: counters,
		shard: shard, out: poison.New(store, cfg.Poison), win: window.New(cfg.Window, cfg.AllowedLateness).WithBudget(cfg.KeyBudget),
		incidents: incident.NewSet(incident.SetConfig{Detections: cfg.Detections, Keys: rules.KeyUser,
			AllowedLateness: cfg.AllowedLateness, FutureSkew: cfg.FutureSkew, Shard: shard, KeyBudget: cfg.KeyBudget})}
}

// Warm rebuilds the window and the incidents from the failures stored from
// this shard before committed, the partition's committed offset. The
// incidents' rows of that state were stored with it, so what the rebuild
// produces is dropped.
func (p *Processor) Warm(ctx context.Context, committed int64) (int, error) {
	span := max(p.cfg.Window+p.cfg.AllowedLateness, p.incidents.Span())
	span, err := p.store.IncidentWarmSpan(ctx, string(rules.KeyUser), p.incidents.Names(), p.shard, committed, span)
	if err != nil {
		return 0, fmt.Errorf("warm up incidents: %w", err)
	}
	recent, err := p.store.RecentFailures(ctx, p.shard, committed, span)
	if err != nil {
		return 0, fmt.Errorf("warm up window: %w", err)
	}
	watermark, err := p.store.WindowWatermark(ctx, sinks.WindowUsers, p.shard, committed)
	if err != nil {
		return 0, fmt.Errorf("warm up window: %w", err)
	}
	now := p.cfg.Now()
	for _, f := range recent {
		p.win.ObserveFailure(f.UserKey, f.Identity, f.At)
		c := rules.Candidate{ErrorCode: f.ErrorCode, IsFailure: true, UserKey: f.UserKey, AppID: f.AppID, Device: f.Device}
		p.incidents.Observe(c, false, f.Identity, f.At, nil, now)
	}
	// The live window's watermark was the latest event, a success as
	// likely as a failure: start from it, so what is late is the same.
	p.win.AdvanceTo(watermark)
	p.incidents.Take()
	p.reportWindow(0)
	return len(recent), nil
}

// Process handles one keyed event.
func (p *Processor) Process(_ context.Context, rec source.Record) error {
	p.records++
	p.lastOffset = rec.Offset
	// The event is decoded into the same memory each time: Process keeps
	// copies (*si into the batch), never the pointers.
	ev := &p.event
	if err := wire.DecodeEvent(rec.Value, ev); err != nil {
		p.counters.Malformed()
		return nil
	}
	if ev.Flag != nil {
		p.batch.Flags = append(p.batch.Flags, *ev.Flag)
		p.marks.Add(rec, &p.batch)
		p.counters.Flag()
		return nil
	}
	si := ev.SignIn
	isFailure := p.catalog.IsFailure(si.Status.ErrorCode)
	in := rules.Input{SignIn: si, IsFailure: isFailure, Window: p.cfg.Window}
	duplicate := false
	if isFailure {
		c := p.win.ObserveFailure(si.UserKey(), si.Identity(), si.CreatedDateTime)
		in.FailuresBefore, in.Failures48h = c.Before, c.After
		duplicate = c.Duplicate
		in.CountsPartial = c.Refused
		if c.Late {
			p.counters.Late()
		}
	} else {
		n := p.win.Count(si.UserKey(), si.CreatedDateTime)
		in.FailuresBefore, in.Failures48h = n, n
	}
	// A sign-in later than the allowed lateness (a very late log, or a
	// redelivery hours after the first) sees a window already evicted: its
	// counts are a lower bound, and its findings say so. Storage keeps the
	// complete computation of a finding over a partial one, so a late
	// redelivery never overwrites what the first delivery found.
	in.CountsPartial = in.CountsPartial || !p.win.Complete(si.CreatedDateTime)
	findings := p.engine.Evaluate(in)
	for _, f := range findings {
		p.counters.Finding(f.Scenario)
	}
	out := p.incidents.Observe(rules.CandidateOf(si, isFailure), false, si.Identity(), si.CreatedDateTime, si, p.cfg.Now())
	for _, scenario := range out.Created {
		p.counters.Finding(scenario) // one per incident: alerting's record is the incident
	}
	if out.Late && !isFailure {
		p.counters.Late()
	}
	// A failure the window already holds at this very time is stored
	// already (or is in this batch) at an earlier offset. Storing it again
	// would let a merge replace that row with one at this later offset, and
	// a worker rebuilding its windows from the rows before its committed
	// offset would then miss it.
	if !duplicate {
		p.addSignIn(rec, si, isFailure)
	}
	p.batch.Findings = append(p.batch.Findings, findings...)
	p.marks.Add(rec, &p.batch)
	p.counters.SignIn()
	return nil
}

// addSignIn adds the sign-in, and the flag it may carry, to the batch.
func (p *Processor) addSignIn(rec source.Record, si *schemas.SignIn, isFailure bool) {
	record := sinks.SignInRecord{SignIn: *si, IsFailure: isFailure, Shard: p.shard, Offset: rec.Offset}
	if wire.IsCurrent(rec.Value) {
		record.Doc = rec.Value // store the bytes as they came: no second encoding
	}
	p.batch.SignIns = append(p.batch.SignIns, record)
	if si.FlaggedForReview {
		// The user flagged it while signing in: the flagged queue lists it
		// like any flag event.
		p.batch.Flags = append(p.batch.Flags, schemas.Flag{
			ID: schemas.FindingID("flaggedForReview", si.Identity()), SignInID: si.ID, CorrelationID: si.CorrelationID,
			UserID: si.UserID, UserPrincipalName: si.UserPrincipalName, FlaggedAt: si.CreatedDateTime, FlaggedBy: "user",
			Reason: "flagged for review during sign-in"})
	}
}

// Pending counts records read since the last seal.
func (p *Processor) Pending() int { return p.records }

// Seal moves the batch out with the incidents changed since the last seal,
// evicts what the windows no longer need, and returns the write that
// stores the batch (pipeline.Processor). The windows and incidents stay
// with the processing goroutine; the write touches only the sealed batch.
func (p *Processor) Seal() func(context.Context) error {
	b, marks := p.batch, p.marks
	b.Incidents = append(b.Incidents, p.incidents.Take()...)
	if p.records > 0 && p.win.Watermark().UnixMilli() != 0 {
		// Where the window stood at the batch's last offset: a rebuild
		// from the committed offset starts from it (sinks.WatermarkRecord).
		b.Watermarks = []sinks.WatermarkRecord{{Stage: sinks.WindowUsers, Shard: p.shard, Offset: p.lastOffset, At: p.win.Watermark()}}
	}
	// The sign-in slice and the marks are kept for a later batch: grown
	// afresh each time, copying the large sign-in records cost more than
	// any other append here. Two sets alternate, as the sealed batch is
	// written while the next is filled; the spare is the batch sealed
	// before this one, whose write has returned (Seal's contract).
	signIns := p.spare.signIns
	clear(signIns)
	p.batch = sinks.Batch{SignIns: signIns[:0]}
	p.marks = p.spare.marks
	p.marks.Reset()
	p.spare.signIns, p.spare.marks = b.SignIns, marks
	p.records = 0
	p.reportWindow(p.win.Evict() + p.incidents.Evict())
	return func(ctx context.Context) error { return p.out.Write(ctx, &b, &marks) }
}

// Flush seals the batch and stores it at once, for callers without a
// pipelined loop (tests, cmd/bench-api).
func (p *Processor) Flush(ctx context.Context) error { return p.Seal()(ctx) }

// Close reports the window as gone: the partition's next owner rebuilds it.
func (p *Processor) Close() {
	p.win.Release()
	p.incidents.Release()
	p.counters.WindowChange(-p.keys, 0)
	p.keys = 0
}

func (p *Processor) reportWindow(evicted int) {
	n := p.win.Keys()
	p.counters.WindowChange(n-p.keys, evicted)
	p.keys = n
}
