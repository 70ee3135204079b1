package diagnose

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/signindiag/signindiag/pipeline/source"
	"github.com/signindiag/signindiag/rules"
	"github.com/signindiag/signindiag/rules/catalog"
	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

type fakeStore struct {
	batches []sinks.Batch
	recent  []sinks.FailureRecord
	asked   []int64
}

func (s *fakeStore) Write(_ context.Context, b *sinks.Batch) error {
	s.batches = append(s.batches, *b)
	return nil
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
	return NewProcessor(Config{Window: 48 * time.Hour, AllowedLateness: 48 * time.Hour}, 2, store,
		rules.NewEngine(rules.Config{FailureThreshold: 3}, cat), cat, noCounters{})
}

func TestWarmUpContinuesTheCountsOfThePreviousOwner(t *testing.T) {
	store := &fakeStore{recent: []sinks.FailureRecord{
		{UserKey: "u1", Identity: "/old-1", At: t0.Add(-2 * time.Hour)},
		{UserKey: "u1", Identity: "/old-2", At: t0.Add(-time.Hour)},
	}}
	p := newProcessor(store)
	n, err := p.Warm(context.Background(), &source.Claim{Partition: 2, Committed: 40})
	if err != nil || n != 2 || len(store.asked) != 1 || store.asked[0] != 40 {
		t.Fatalf("warm: %d %v, asked %v", n, err, store.asked)
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
	// Two failures from before the restart plus this one cross the
	// threshold of 3 exactly here.
	if fmt.Sprint(got) != "[invalid_credentials:3 excessive_failures_48h:3]" {
		t.Fatalf("findings = %v", got)
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

func TestMFAFatigueAcrossARestart(t *testing.T) {
	var recent []sinks.FailureRecord
	for i := range 6 { // six denials before the restart
		recent = append(recent, sinks.FailureRecord{UserKey: "u1", Identity: fmt.Sprint("/old", i), At: t0.Add(time.Duration(i) * 30 * time.Second), ErrorCode: 500121})
	}
	store := &fakeStore{recent: recent}
	cat := catalog.Default()
	p := NewProcessor(Config{Window: 48 * time.Hour, AllowedLateness: 48 * time.Hour, Fatigue: rules.DefaultFatigueConfig()}, 0, store,
		rules.NewEngine(rules.Config{FailureThreshold: 100}, cat), cat, noCounters{})
	if _, err := p.Warm(context.Background(), &source.Claim{Committed: 6}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 4 {
		si := &schemas.SignIn{ID: fmt.Sprint("new", i), CreatedDateTime: t0.Add(3*time.Minute + time.Duration(i)*30*time.Second), UserID: "u1",
			Status: schemas.Status{ErrorCode: 500121, AdditionalDetails: "MFA denied; user declined the authentication"}}
		if err := p.Process(ctx, event(t, schemas.Event{SignIn: si}, int64(6+i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var fatigue []string
	for _, f := range store.batches[0].Findings {
		if f.Scenario == rules.ScenarioMFAFatigue {
			fatigue = append(fatigue, f.SignInID)
		}
	}
	if fmt.Sprint(fatigue) != "[new3]" {
		t.Fatalf("mfa_fatigue on %v, want the tenth denial (new3)", fatigue)
	}
}
