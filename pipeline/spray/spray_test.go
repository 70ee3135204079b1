package spray

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/signindiag/signindiag/pipeline/source"
	"github.com/signindiag/signindiag/rules"
	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

type fakeStore struct {
	batches []sinks.Batch
	recent  []sinks.IPFailureRecord
}

func (s *fakeStore) Write(_ context.Context, b *sinks.Batch) error {
	s.batches = append(s.batches, *b)
	return nil
}

func (s *fakeStore) IncidentWarmSpan(_ context.Context, _ string, _ []string, _ int, _ int64, base time.Duration) (time.Duration, error) {
	return base, nil
}

func (s *fakeStore) RecentIPFailures(context.Context, int, int64, time.Duration) ([]sinks.IPFailureRecord, error) {
	return s.recent, nil
}

type counters struct{ findings, late, malformed int }

func (c *counters) Finding(string) { c.findings++ }
func (c *counters) Late()          { c.late++ }
func (c *counters) Malformed()     { c.malformed++ }

var t0 = time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC)

func failure(t *testing.T, i int, user string, at time.Time) source.Record {
	si := &schemas.SignIn{ID: fmt.Sprint("s", i), Category: schemas.CategoryInteractive, UserID: user, IPAddress: "198.51.100.99",
		CreatedDateTime: at, Status: schemas.Status{ErrorCode: 50126}}
	b, err := json.Marshal(schemas.Event{SignIn: si})
	if err != nil {
		t.Fatal(err)
	}
	return source.Record{Offset: int64(i), Value: b}
}

func TestSprayCrossesOnTheFifthUserIncludingWarmedUpOnes(t *testing.T) {
	store := &fakeStore{recent: []sinks.IPFailureRecord{
		{IP: "198.51.100.99", UserKey: "a", Identity: "x/1", At: t0.Add(-5 * time.Minute)},
		{IP: "198.51.100.99", UserKey: "b", Identity: "x/2", At: t0.Add(-4 * time.Minute)},
		{IP: "198.51.100.99", UserKey: "old", Identity: "x/3", At: t0.Add(-30 * time.Minute)}, // outside 20m
	}}
	c := &counters{}
	p := NewProcessor(Config{Detections: rules.Detections(nil), AllowedLateness: time.Hour, Now: func() time.Time { return t0 }}, 1, store, c)
	if n, err := p.Warm(context.Background(), 10); err != nil || n != 3 {
		t.Fatalf("warm: %d %v", n, err)
	}
	ctx := context.Background()
	for i, user := range []string{"c", "c", "d", "e", "f"} {
		if err := p.Process(ctx, failure(t, 10+i, user, t0.Add(time.Duration(i)*time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	b := store.batches[0]
	if len(b.IPFailures) != 5 || b.IPFailures[0].Shard != 1 || b.IPFailures[0].Offset != 10 {
		t.Fatalf("stored IP failures: %+v", b.IPFailures)
	}
	// a, b (warmed up), c, d, e: the fifth distinct user is e (at +3m);
	// every failure from a to f is a member, the one 30 minutes before is
	// not.
	if len(b.Incidents) != 1 || c.findings != 1 {
		t.Fatalf("incidents: %+v", b.Incidents)
	}
	in := b.Incidents[0]
	if in.Detection != "password_spray" || in.Key != "198.51.100.99" || !in.Start.Equal(t0.Add(3*time.Minute)) || in.Count != 7 ||
		!in.First.Equal(t0.Add(-5*time.Minute)) || !in.Last.Equal(t0.Add(4*time.Minute)) || in.Shard != 1 {
		t.Fatalf("incident: %+v", in)
	}
	if len(b.Findings) != 0 {
		t.Fatalf("per-sign-in findings: %+v", b.Findings)
	}
}

// WindowWatermark is the latest stored candidate, as the store's fallback.
func (s *fakeStore) WindowWatermark(context.Context, string, int, int64) (time.Time, error) {
	var wm time.Time
	for _, r := range s.recent {
		if r.At.After(wm) {
			wm = r.At
		}
	}
	return wm, nil
}
