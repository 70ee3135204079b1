package sqlite_test

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

func countsOf(t *testing.T, s interface {
	FailureCounts(context.Context, sinks.CountQuery) ([]sinks.Count, error)
}, q sinks.CountQuery) []string {
	t.Helper()
	got, err := s.FailureCounts(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range got {
		out = append(out, fmt.Sprintf("%s %s=%d", c.Start.Format("15:04"), c.Value, c.Count))
	}
	sort.Strings(out)
	return out
}

// A batch written twice (a replay after a crash), an interrupt re-emitted
// with its failure, and rows ReplacingMergeTree has not merged yet leave
// the counts as if every sign-in had been written once.
func TestFailureCountsAreExactUnderReplaysAndReemissions(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	mk := func(id, user string, at time.Time, code int, ip, country string) sinks.SignInRecord {
		si := signIn(id, user, user+"@contoso.example", at, code)
		si.IPAddress, si.Location.CountryOrRegion, si.ClientAppUsed = ip, country, "Browser"
		return record(si, 0)
	}
	interrupt := mk("R-1", "u5", t0.Add(4*time.Minute), 50074, "198.51.100.3", "FR") // MFA required: not a failure
	interrupt.IsFailure = false
	ok := mk("OK-1", "u4", t0.Add(3*time.Minute), 0, "198.51.100.1", "FR")
	ok.IsFailure = false
	batch := &sinks.Batch{SignIns: []sinks.SignInRecord{
		mk("F-1", "u1", t0.Add(1*time.Minute), 50126, "198.51.100.1", "FR"),
		mk("F-2", "u2", t0.Add(2*time.Minute), 50126, "198.51.100.1", "FR"),
		mk("F-3", "u3", t0.Add(6*time.Minute), 53003, "198.51.100.2", "DE"),
		ok, interrupt,
	}}
	batch.Findings = []schemas.Finding{{ID: "f1", SignInID: "F-1", Scenario: "invalid_credentials", OccurredAt: t0},
		{ID: "f3", SignInID: "F-3", Scenario: "blocked_by_conditional_access", OccurredAt: t0}}
	q := func(by sinks.Dimension) sinks.CountQuery {
		return sinks.CountQuery{By: by, Step: 5 * time.Minute, From: t0, To: t0.Add(time.Hour)}
	}
	if err := s.Write(ctx, batch); err != nil {
		t.Fatal(err)
	}
	once := map[sinks.Dimension][]string{}
	for _, by := range sinks.Dimensions {
		once[by] = countsOf(t, s, q(by))
	}
	want := []string{"09:00 50126=2", "09:05 53003=1"}
	if !reflect.DeepEqual(once[sinks.DimErrorCode], want) {
		t.Fatalf("by error code after one write: %v, want %v", once[sinks.DimErrorCode], want)
	}
	if want := []string{"09:00 =1", "09:00 invalid_credentials=1", "09:05 blocked_by_conditional_access=1"}; !reflect.DeepEqual(once[sinks.DimScenario], want) {
		t.Fatalf("by scenario: %v, want %v", once[sinks.DimScenario], want)
	}

	// The replay: every count stays.
	if err := s.Write(ctx, batch); err != nil {
		t.Fatal(err)
	}
	for _, by := range sinks.Dimensions {
		if got := countsOf(t, s, q(by)); !reflect.DeepEqual(got, once[by]) {
			t.Errorf("by %s after the replay: %v, want %v", by, got, once[by])
		}
	}
	// The interrupt completes as a failure 30 s later (Entra re-emits the
	// sign-in under its id), and that version is delivered twice.
	failed := mk("R-1", "u5", t0.Add(4*time.Minute+30*time.Second), 500121, "198.51.100.3", "FR")
	for range 2 {
		if err := s.Write(ctx, &sinks.Batch{SignIns: []sinks.SignInRecord{failed}}); err != nil {
			t.Fatal(err)
		}
	}
	want = []string{"09:00 500121=1", "09:00 50126=2", "09:05 53003=1"}
	if got := countsOf(t, s, q(sinks.DimErrorCode)); !reflect.DeepEqual(got, want) {
		t.Errorf("by error code after the re-emission: %v, want %v", got, want)
	}
	want = []string{"09:00 all=3", "09:05 all=1"}
	if got := countsOf(t, s, q(sinks.DimAll)); !reflect.DeepEqual(got, want) {
		t.Errorf("tenant-wide after the re-emission: %v, want %v", got, want)
	}
	narrow := sinks.CountQuery{By: sinks.DimErrorCode, Step: 5 * time.Minute, From: t0, To: t0.Add(10 * time.Minute), Values: []string{"53003"}}
	if got, want := countsOf(t, s, narrow), []string{"09:05 53003=1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("one value: %v, want %v", got, want)
	}

	top, err := s.TopValues(ctx, sinks.DimIP, t0, t0.Add(time.Hour), 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []sinks.ValueCount{{Value: "198.51.100.1", Count: 2}, {Value: "198.51.100.2", Count: 1}}; !reflect.DeepEqual(top, want) { // .3 ties .2, sorts after
		t.Errorf("top IPs: %+v, want %+v", top, want)
	}
	c, err := s.SpikeContributors(ctx, sinks.DimCountry, "FR", t0, t0.Add(time.Hour), 5)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(c.Users)
	if want := []string{"u1", "u2", "u5"}; !reflect.DeepEqual(c.Users, want) || !reflect.DeepEqual(c.Apps, []string{"Azure Portal"}) {
		t.Errorf("contributors: %+v, want users %v", c, want)
	}
	if _, err := s.FailureCounts(ctx, sinks.CountQuery{By: "nope", Step: time.Minute, From: t0, To: t0.Add(time.Hour)}); err == nil {
		t.Error("an unknown dimension was accepted")
	}
}
