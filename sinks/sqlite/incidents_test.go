package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/signindiag/signindiag/sinks"
)

func incident(id, key string, start, first, last time.Time, count int) sinks.IncidentRecord {
	return sinks.IncidentRecord{ID: id, Detection: "mfa_fatigue", Key: key, Start: start, First: first, Last: last, Count: count,
		Shard: 3, Severity: "high", Title: "Repeated MFA prompts", Summary: "s", Recommendations: []string{"r"}}
}

// TestIncidentsLatestVersionWinsAndSupersededAreHidden: versions written in
// any order collapse to the one with most members; a superseded id
// disappears; the span filter and paging work.
func TestIncidentsLatestVersionWinsAndSupersededAreHidden(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	a3 := incident("a", "u1", t0.Add(9*time.Minute), t0, t0.Add(9*time.Minute), 10)
	a1 := incident("a", "u1", t0.Add(9*time.Minute), t0, t0.Add(12*time.Minute), 13)
	b := incident("b", "u1", t0.Add(3*time.Hour), t0.Add(3*time.Hour), t0.Add(3*time.Hour+time.Minute), 10)
	c := incident("c", "u2", t0.Add(time.Hour), t0.Add(time.Hour), t0.Add(time.Hour+time.Minute), 10)
	gone := incident("d", "u1", t0.Add(5*time.Hour), t0.Add(5*time.Hour), t0.Add(5*time.Hour), 10)
	goneSup := gone
	goneSup.SupersededBy = "b"
	// The larger version first, then a stale smaller one, then a replay.
	for _, batch := range [][]sinks.IncidentRecord{{a1, gone}, {a3, b, c}, {goneSup}, {a1, a3, gone}} {
		if err := s.Write(ctx, &sinks.Batch{Incidents: batch}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Incidents(ctx, sinks.IncidentQuery{Detection: "mfa_fatigue", Keys: []string{"u1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "b" || got[1].ID != "a" || got[1].Count != 13 || !got[1].Last.Equal(t0.Add(12*time.Minute)) ||
		got[1].Summary != "s" || got[1].Shard != 3 {
		t.Fatalf("incidents of u1: %+v", got)
	}
	// Membership probe: an event of u1 at t0+11m lies in a's span only.
	got, err = s.Incidents(ctx, sinks.IncidentQuery{Detection: "mfa_fatigue", Keys: []string{"u1"}, From: t0.Add(11 * time.Minute), To: t0.Add(11 * time.Minute)})
	if err != nil || len(got) != 1 || got[0].ID != "a" {
		t.Fatalf("probe at +11m: %+v, %v", got, err)
	}
	// Paging, newest first, across keys.
	page1, err := s.Incidents(ctx, sinks.IncidentQuery{Limit: 2})
	if err != nil || len(page1) != 2 || page1[0].ID != "b" || page1[1].ID != "c" {
		t.Fatalf("page 1: %+v, %v", page1, err)
	}
	page2, err := s.Incidents(ctx, sinks.IncidentQuery{Limit: 2, AfterStart: page1[1].Start, AfterID: page1[1].ID})
	if err != nil || len(page2) != 1 || page2[0].ID != "a" {
		t.Fatalf("page 2: %+v, %v", page2, err)
	}
}

func TestIncidentWarmSpanReachesTheFirstMemberOfOpenIncidents(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	si := signIn("S-9", "u1", "", t0.Add(10*time.Hour), 500121)
	rec := record(si, 41)
	rec.Shard = 3
	early := incident("a", "u1", t0.Add(2*time.Hour), t0, t0.Add(9*time.Hour), 30)
	closed := incident("z", "u1", t0.Add(-time.Hour), t0.Add(-2*time.Hour), t0.Add(-time.Hour), 10)
	if err := s.Write(ctx, &sinks.Batch{SignIns: []sinks.SignInRecord{rec}, Incidents: []sinks.IncidentRecord{early, closed}}); err != nil {
		t.Fatal(err)
	}
	span, err := s.IncidentWarmSpan(ctx, "user", []string{"mfa_fatigue"}, 3, 42, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if span != 10*time.Hour+time.Millisecond {
		t.Fatalf("span %s, want back to the open incident's first member (10h)", span)
	}
	if span, err := s.IncidentWarmSpan(ctx, "user", []string{"password_spray"}, 3, 42, 2*time.Hour); err != nil || span != 2*time.Hour {
		t.Fatalf("no incident of the detection: %s, %v", span, err)
	}
}
