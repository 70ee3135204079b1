package sinkstest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/signindiag/signindiag/sinks"
)

func incident(id, key string, start, first, last time.Time, count int) sinks.IncidentRecord {
	return sinks.IncidentRecord{ID: id, Detection: "mfa_fatigue", Key: key, Start: start, First: first, Last: last, Count: count,
		Shard: 3, Severity: "high", Title: "Repeated MFA prompts", Summary: "s", Recommendations: []string{"r"}}
}

func incidentIDs(rs []sinks.IncidentRecord) string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return join(out)
}

// Versions written in any order collapse to the one with most members; a
// superseded id disappears; the span filter and paging work.
func testIncidents(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	a3 := incident("a", "u1", T0.Add(9*time.Minute), T0, T0.Add(9*time.Minute), 10)
	a1 := incident("a", "u1", T0.Add(9*time.Minute), T0, T0.Add(12*time.Minute), 13)
	bi := incident("b", "u1", T0.Add(3*time.Hour), T0.Add(3*time.Hour), T0.Add(3*time.Hour+time.Minute), 10)
	c := incident("c", "u2", T0.Add(time.Hour), T0.Add(time.Hour), T0.Add(time.Hour+time.Minute), 10)
	c.Detection = "password_spray"
	c.Details = json.RawMessage(`{"ip":"203.0.113.9","users":7}`)
	gone := incident("d", "u1", T0.Add(5*time.Hour), T0.Add(5*time.Hour), T0.Add(5*time.Hour), 10)
	goneSup := gone
	goneSup.SupersededBy = "b"
	// The larger version first, then a stale smaller one, then a replay.
	for _, batch := range [][]sinks.IncidentRecord{{a1, gone}, {a3, bi, c}, {goneSup}, {a1, a3, gone}} {
		write(t, s, &sinks.Batch{Incidents: batch})
	}
	b.settled(t, s, func(t *testing.T) {
		got, err := s.Incidents(ctx, sinks.IncidentQuery{Detection: "mfa_fatigue", Keys: []string{"u1"}})
		if err != nil {
			t.Fatal(err)
		}
		if incidentIDs(got) != "b,a" {
			t.Fatalf("incidents of u1: %s, want b,a", incidentIDs(got))
		}
		a := got[1]
		if a.Count != 13 || !a.Last.Equal(T0.Add(12*time.Minute)) || !a.First.Equal(T0) || !a.Start.Equal(T0.Add(9*time.Minute)) ||
			a.Summary != "s" || a.Shard != 3 || a.Severity != "high" || a.Title != "Repeated MFA prompts" ||
			len(a.Recommendations) != 1 || a.Recommendations[0] != "r" || a.Key != "u1" || a.SupersededBy != "" {
			t.Fatalf("incident a: %+v", a)
		}
		// Membership probe: an event of u1 at +11m lies in a's span only.
		got, err = s.Incidents(ctx, sinks.IncidentQuery{Detection: "mfa_fatigue", Keys: []string{"u1"}, From: T0.Add(11 * time.Minute), To: T0.Add(11 * time.Minute)})
		if err != nil || incidentIDs(got) != "a" {
			t.Fatalf("probe at +11m: %s, %v, want a", incidentIDs(got), err)
		}
		// At +5h only the superseded d would match.
		got, err = s.Incidents(ctx, sinks.IncidentQuery{Keys: []string{"u1"}, From: T0.Add(5 * time.Hour), To: T0.Add(5 * time.Hour)})
		if err != nil || len(got) != 0 {
			t.Fatalf("probe at +5h: %s, %v, want nothing (d is superseded)", incidentIDs(got), err)
		}
		got, err = s.Incidents(ctx, sinks.IncidentQuery{Detection: "password_spray"})
		if err != nil || incidentIDs(got) != "c" || string(got[0].Details) != `{"ip":"203.0.113.9","users":7}` || got[0].Key != "u2" {
			t.Fatalf("password_spray: %+v, %v", got, err)
		}
		got, err = s.Incidents(ctx, sinks.IncidentQuery{Keys: []string{"u1", "u2"}})
		if err != nil || incidentIDs(got) != "b,c,a" {
			t.Fatalf("keys u1, u2: %s, %v, want b,c,a", incidentIDs(got), err)
		}
		// Paging, newest first, across keys and detections.
		page1, err := s.Incidents(ctx, sinks.IncidentQuery{Limit: 2})
		if err != nil || incidentIDs(page1) != "b,c" {
			t.Fatalf("page 1: %s, %v", incidentIDs(page1), err)
		}
		page2, err := s.Incidents(ctx, sinks.IncidentQuery{Limit: 2, AfterStart: page1[1].Start, AfterID: page1[1].ID})
		if err != nil || incidentIDs(page2) != "a" {
			t.Fatalf("page 2: %s, %v", incidentIDs(page2), err)
		}
	})
}
