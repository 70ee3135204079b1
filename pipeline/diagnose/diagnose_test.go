package diagnose

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/signindiag/signindiag/pipeline/pipelinetest"
	"github.com/signindiag/signindiag/pipeline/source"
	"github.com/signindiag/signindiag/rules"
	"github.com/signindiag/signindiag/rules/catalog"
	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

type fakeStore struct {
	batches []sinks.Batch
	recent  []sinks.FailureRecord
	// watermark is what WindowWatermark answers; zero means the latest
	// recent failure.
	watermark time.Time
	asked     []int64
	spans     []string
}

// Write keeps a copy: as the Writer contract says, the batch belongs to
// the caller again once Write returns.
func (s *fakeStore) Write(_ context.Context, b *sinks.Batch) error {
	c := *b
	c.SignIns = slices.Clone(b.SignIns)
	s.batches = append(s.batches, c)
	return nil
}

func (s *fakeStore) IncidentWarmSpan(_ context.Context, keys string, dets []string, _ int, _ int64, base time.Duration) (time.Duration, error) {
	s.spans = append(s.spans, fmt.Sprint(keys, dets, base))
	return base, nil
}

func (s *fakeStore) WindowWatermark(context.Context, string, int, int64) (time.Time, error) {
	if !s.watermark.IsZero() {
		return s.watermark, nil
	}
	var wm time.Time
	for _, r := range s.recent {
		if r.At.After(wm) {
			wm = r.At
		}
	}
	return wm, nil
}

func (s *fakeStore) RecentFailures(_ context.Context, shard int, before int64, _ time.Duration) ([]sinks.FailureRecord, error) {
	s.asked = append(s.asked, before)
	return s.recent, nil
}

type noCounters struct{}

func (noCounters) SignIn()               {}
func (noCounters) Flag()                 {}
func (noCounters) Finding(string)        {}
func (noCounters) Late()                 {}
func (noCounters) WindowChange(int, int) {}
func (noCounters) Malformed()            {}

var t0 = time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC)

func event(t *testing.T, ev schemas.Event, offset int64) source.Record {
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return source.Record{Offset: offset, Value: b}
}

func failure(id string, at time.Time) *schemas.SignIn {
	return &schemas.SignIn{ID: id, CreatedDateTime: at, UserID: "u1", Status: schemas.Status{ErrorCode: 50126}}
}

func newProcessor(store *fakeStore) *Processor {
	cat := catalog.Default()
	return NewProcessor(Config{Window: 48 * time.Hour, AllowedLateness: 48 * time.Hour,
		Detections: rules.Detections(rules.DetectionsConfig{rules.ScenarioExcessiveFailures48h: {Threshold: 3}}), Now: func() time.Time { return t0 }}, 2, store,
		rules.NewEngine(rules.Config{}, cat), cat, noCounters{})
}

func TestWarmUpContinuesTheCountsOfThePreviousOwner(t *testing.T) {
	store := &fakeStore{recent: []sinks.FailureRecord{
		{UserKey: "u1", Identity: "/old-1", At: t0.Add(-2 * time.Hour)},
		{UserKey: "u1", Identity: "/old-2", At: t0.Add(-time.Hour)},
	}}
	p := newProcessor(store)
	n, err := p.Warm(context.Background(), 40)
	if err != nil || n != 2 || len(store.asked) != 1 || store.asked[0] != 40 {
		t.Fatalf("warm: %d %v, asked %v", n, err, store.asked)
	}
	// The rebuild reads back to the open incidents of both user detections.
	if fmt.Sprint(store.spans) != "[user[excessive_failures_48h mfa_fatigue] 144h0m0s]" {
		t.Fatalf("warm span asked: %v", store.spans)
	}
	ctx := context.Background()
	if err := p.Process(ctx, event(t, schemas.Event{SignIn: failure("new-1", t0)}, 40)); err != nil {
		t.Fatal(err)
	}
	if err := p.Process(ctx, event(t, schemas.Event{Flag: &schemas.Flag{ID: "f", SignInID: "new-1", UserID: "u1", FlaggedAt: t0}}, 41)); err != nil {
		t.Fatal(err)
	}
	if err := p.Process(ctx, event(t, schemas.Event{}, 42)); err != nil { // malformed: counted, skipped
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	b := store.batches[0]
	if len(b.SignIns) != 1 || b.SignIns[0].Shard != 2 || b.SignIns[0].Offset != 40 || !b.SignIns[0].IsFailure {
		t.Fatalf("stored sign-ins: %+v", b.SignIns)
	}
	var got []string
	for _, f := range b.Findings {
		got = append(got, fmt.Sprintf("%s:%d", f.Scenario, f.Failures48h))
	}
	if fmt.Sprint(got) != "[invalid_credentials:3]" {
		t.Fatalf("findings = %v", got)
	}
	// Two failures from before the restart plus this one cross the
	// threshold of 3 here: the incident starts now and spans all three.
	if len(b.Incidents) != 1 || b.Incidents[0].Detection != "excessive_failures_48h" || b.Incidents[0].Count != 3 ||
		!b.Incidents[0].Start.Equal(t0) || !b.Incidents[0].First.Equal(t0.Add(-2*time.Hour)) || b.Incidents[0].Shard != 2 {
		t.Fatalf("incidents: %+v", b.Incidents)
	}
	if len(b.Flags) != 1 || b.Flags[0].SignInID != "new-1" {
		t.Fatalf("flags: %+v", b.Flags)
	}
	if p.Pending() != 0 {
		t.Fatalf("pending after flush: %d", p.Pending())
	}
}

func TestSuccessesAndInterruptsDoNotCount(t *testing.T) {
	store := &fakeStore{}
	p := newProcessor(store)
	ctx := context.Background()
	ok := &schemas.SignIn{ID: "s", CreatedDateTime: t0, UserID: "u1"}
	mfa := &schemas.SignIn{ID: "i", CreatedDateTime: t0.Add(time.Second), UserID: "u1", Status: schemas.Status{ErrorCode: 50074}}
	bad := failure("f", t0.Add(2*time.Second))
	for i, si := range []*schemas.SignIn{ok, mfa, bad} {
		if err := p.Process(ctx, event(t, schemas.Event{SignIn: si}, int64(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	b := store.batches[0]
	if len(b.SignIns) != 3 || b.SignIns[0].IsFailure || b.SignIns[1].IsFailure || !b.SignIns[2].IsFailure {
		t.Fatalf("failure verdicts: %+v", b.SignIns)
	}
	if len(b.Findings) != 1 || b.Findings[0].Failures48h != 1 {
		t.Fatalf("findings: %+v", b.Findings)
	}
}

func fatigueProcessor(store *fakeStore) *Processor {
	cat := catalog.Default()
	dets := rules.Detections(rules.DetectionsConfig{rules.ScenarioExcessiveFailures48h: {Threshold: 100}})
	return NewProcessor(Config{Window: 48 * time.Hour, AllowedLateness: 48 * time.Hour, Detections: dets,
		Now: func() time.Time { return t0.Add(time.Hour) }}, 0, store, rules.NewEngine(rules.Config{}, cat), cat, noCounters{})
}

func denial(i int, at time.Time) *schemas.SignIn {
	return &schemas.SignIn{ID: fmt.Sprint("new", i), CreatedDateTime: at, UserID: "u1", UserPrincipalName: "fay@contoso.example",
		Status: schemas.Status{ErrorCode: 500121, AdditionalDetails: "MFA denied; user declined the authentication"}}
}

func TestMFAFatigueAcrossARestart(t *testing.T) {
	var recent []sinks.FailureRecord
	for i := range 6 { // six denials before the restart
		recent = append(recent, sinks.FailureRecord{UserKey: "u1", Identity: fmt.Sprint("/old", i), At: t0.Add(time.Duration(i) * 30 * time.Second), ErrorCode: 500121})
	}
	store := &fakeStore{recent: recent}
	p := fatigueProcessor(store)
	if _, err := p.Warm(context.Background(), 6); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 4 {
		if err := p.Process(ctx, event(t, schemas.Event{SignIn: denial(i, t0.Add(3*time.Minute+time.Duration(i)*30*time.Second))}, int64(6+i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	inc := store.batches[0].Incidents
	if len(inc) != 1 || inc[0].Detection != rules.ScenarioMFAFatigue || inc[0].Count != 10 || !inc[0].First.Equal(t0) ||
		!inc[0].Last.Equal(t0.Add(4*time.Minute+30*time.Second)) || !strings.Contains(inc[0].Summary, "fay@contoso.example had 10 denied MFA prompts") {
		t.Fatalf("mfa_fatigue incidents: %+v", inc)
	}
	for _, f := range store.batches[0].Findings {
		if f.Scenario == rules.ScenarioMFAFatigue {
			t.Fatalf("a per-sign-in mfa_fatigue finding: %+v", f)
		}
	}
}

// TestMFAFatigueInAnyDeliveryOrder: twelve denials a minute apart, in time
// order and in reverse order, give the same one incident.
func TestMFAFatigueInAnyDeliveryOrder(t *testing.T) {
	var ids []string
	for _, reverse := range []bool{false, true} {
		store := &fakeStore{}
		p := fatigueProcessor(store)
		ctx := context.Background()
		for k := range 12 {
			i := k
			if reverse {
				i = 11 - k
			}
			if err := p.Process(ctx, event(t, schemas.Event{SignIn: denial(i, t0.Add(time.Duration(i)*time.Minute))}, int64(k))); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		// In reverse order the first ten denials delivered (the latest
		// ten) raise an incident that each earlier denial then supersedes;
		// what stands is the same incident as in time order.
		var inc []sinks.IncidentRecord
		superseded := 0
		for _, r := range store.batches[0].Incidents {
			if r.SupersededBy == "" {
				inc = append(inc, r)
			} else {
				superseded++
				// A superseded row carries its survivor's span, so a
				// read filtering on spans finds it before its versions.
				if !r.Last.Equal(t0.Add(11*time.Minute)) || r.First.After(t0.Add(2*time.Minute)) {
					t.Errorf("superseded row %+v", r)
				}
			}
		}
		if reverse != (superseded == 2) {
			t.Errorf("reverse=%v: %d superseded", reverse, superseded)
		}
		if len(inc) != 1 || inc[0].Count != 12 || !inc[0].First.Equal(t0) || !inc[0].Last.Equal(t0.Add(11*time.Minute)) ||
			!inc[0].Start.Equal(t0.Add(9*time.Minute)) {
			t.Fatalf("reverse=%v: %+v", reverse, inc)
		}
		ids = append(ids, inc[0].ID)
	}
	if ids[0] != ids[1] {
		t.Fatalf("ids differ by delivery order: %v", ids)
	}
}

// A failure delivered again (a replay after a crash, a duplicate message)
// is stored once, at its first offset: a second row at a later offset
// would replace the first when ClickHouse merges, and a worker rebuilding
// its window from the rows before its committed offset would miss it.
// A new version of the sign-in (another time) is stored.
func TestADuplicateFailureIsStoredOnceAtItsFirstOffset(t *testing.T) {
	store := &fakeStore{}
	p := newProcessor(store)
	ctx := context.Background()
	for i, si := range []*schemas.SignIn{failure("d1", t0), failure("d1", t0), failure("d1", t0.Add(time.Minute))} {
		if err := p.Process(ctx, event(t, schemas.Event{SignIn: si}, int64(10+i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var stored []string
	for _, r := range store.batches[0].SignIns {
		stored = append(stored, fmt.Sprintf("%s@%d", r.SignIn.ID, r.Offset))
	}
	if fmt.Sprint(stored) != "[d1@10 d1@12]" {
		t.Fatalf("stored %v, want the first delivery and the later version only", stored)
	}
}

// A redelivery later than the allowed lateness (here after the window has
// moved 100 hours on and evicted) recomputes the sign-in's findings over
// what is left: they must say their count is partial, so storage keeps the
// first, complete computation (see sinks/clickhouse). A sign-in within the
// lateness is complete.
func TestARedeliveryAfterEvictionYieldsPartialFindings(t *testing.T) {
	store := &fakeStore{}
	p := newProcessor(store) // 48h window, 48h lateness
	ctx := context.Background()
	process := func(si *schemas.SignIn, offset int64) {
		t.Helper()
		if err := p.Process(ctx, event(t, schemas.Event{SignIn: si}, offset)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		process(failure(fmt.Sprintf("f%d", i), t0.Add(time.Duration(i)*time.Hour)), int64(i))
	}
	process(failure("later", t0.Add(100*time.Hour)), 3)
	if err := p.Flush(ctx); err != nil { // evicts f0..f2
		t.Fatal(err)
	}
	process(failure("f2", t0.Add(2*time.Hour)), 4) // the redelivery
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	byOffset := func(b sinks.Batch, id string) []schemas.Finding {
		var out []schemas.Finding
		for _, f := range b.Findings {
			if f.SignInID == id {
				out = append(out, f)
			}
		}
		return out
	}
	first := byOffset(store.batches[0], "f2")
	again := byOffset(store.batches[1], "f2")
	if len(first) == 0 || len(again) == 0 {
		t.Fatalf("findings of f2: first %d, redelivered %d; want both", len(first), len(again))
	}
	for _, f := range first {
		if f.Failures48hPartial || f.Failures48h != 3 {
			t.Errorf("first delivery: %s failures48h=%d partial=%v, want 3 complete", f.Scenario, f.Failures48h, f.Failures48hPartial)
		}
	}
	for _, f := range again {
		if !f.Failures48hPartial || f.Failures48h >= 3 {
			t.Errorf("redelivery: %s failures48h=%d partial=%v, want fewer than 3 and partial", f.Scenario, f.Failures48h, f.Failures48hPartial)
		}
	}
	if f := byOffset(store.batches[0], "later"); len(f) == 0 || f[0].Failures48hPartial {
		t.Errorf("an in-order sign-in's findings must be complete: %+v", f)
	}
}

// A rebuilt window starts from the recorded watermark, which a success may
// have set, so an event the previous owner would have found too late is
// too late for the new one as well; each flush records where the window
// stood at its last offset.
func TestWarmUpStartsFromTheRecordedWatermark(t *testing.T) {
	store := &fakeStore{
		recent:    []sinks.FailureRecord{{UserKey: "u1", Identity: "/old-1", At: t0}},
		watermark: t0.Add(100 * time.Hour), // the latest event was a success
	}
	p := newProcessor(store) // 48h window, 48h lateness: horizon at +4h
	ctx := context.Background()
	if _, err := p.Warm(ctx, 40); err != nil {
		t.Fatal(err)
	}
	if err := p.Process(ctx, event(t, schemas.Event{SignIn: failure("late-1", t0.Add(time.Hour))}, 40)); err != nil {
		t.Fatal(err)
	}
	if err := p.Process(ctx, event(t, schemas.Event{SignIn: failure("new-1", t0.Add(99*time.Hour))}, 41)); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	b := store.batches[0]
	partial := map[string]bool{}
	for _, f := range b.Findings {
		partial[f.SignInID] = f.Failures48hPartial
	}
	if p, ok := partial["late-1"]; !ok || !p {
		t.Errorf("late-1 (+1h, behind the rebuilt watermark's horizon): partial=%v found=%v, want a partial finding", p, ok)
	}
	if p, ok := partial["new-1"]; !ok || p {
		t.Errorf("new-1: partial=%v found=%v, want a complete finding", p, ok)
	}
	want := []sinks.WatermarkRecord{{Stage: sinks.WindowUsers, Shard: 2, Offset: 41, At: t0.Add(100 * time.Hour)}}
	if fmt.Sprint(b.Watermarks) != fmt.Sprint(want) {
		t.Fatalf("watermarks %v, want %v", b.Watermarks, want)
	}
}

// The loop writes a sealed batch while the next is processed, and the
// batches' sign-in slices alternate: a batch's rows must not change until
// its write returns (the race detector sees any overlap).
func TestSealedBatchIsUntouchedWhileTheNextIsProcessed(t *testing.T) {
	store := &fakeStore{}
	p := newProcessor(store)
	ctx := context.Background()
	const batches, perBatch = 4, 50
	writes := pipelinetest.NewWriteBehind(t)
	for b := range batches {
		for i := range perBatch {
			offset := int64(b*perBatch + i)
			si := failure(fmt.Sprintf("b%d-%d", b, i), t0.Add(time.Duration(offset)*time.Second))
			if err := p.Process(ctx, event(t, schemas.Event{SignIn: si}, offset)); err != nil {
				t.Fatal(err)
			}
		}
		writes.Seal(ctx, p.Seal)
	}
	writes.Wait()
	if len(store.batches) != batches {
		t.Fatalf("%d batches stored, want %d", len(store.batches), batches)
	}
	for b, batch := range store.batches {
		if len(batch.SignIns) != perBatch {
			t.Fatalf("batch %d has %d sign-ins, want %d", b, len(batch.SignIns), perBatch)
		}
		for i, r := range batch.SignIns {
			if want := fmt.Sprintf("b%d-%d", b, i); r.SignIn.ID != want || r.Offset != int64(b*perBatch+i) {
				t.Fatalf("batch %d row %d: %s at offset %d, want %s", b, i, r.SignIn.ID, r.Offset, want)
			}
		}
		if wm := batch.Watermarks; len(wm) != 1 || wm[0].Offset != int64((b+1)*perBatch-1) {
			t.Fatalf("batch %d watermarks: %+v", b, wm)
		}
	}
}
