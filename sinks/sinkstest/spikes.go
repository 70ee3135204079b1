package sinkstest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

func countsOf(t *testing.T, s sinks.SpikeSource, q sinks.CountQuery) []string {
	t.Helper()
	got, err := s.FailureCounts(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range got {
		out = append(out, fmt.Sprintf("%s %s=%d", c.Start.UTC().Format("15:04"), c.Value, c.Count))
	}
	sort.Strings(out)
	return out
}

// A batch written twice (a replay after a crash), an interrupt re-emitted
// as a failure, and rows a backend has not settled yet leave the counts
// as if every sign-in had been written once.
func testFailureCounts(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	mk := func(id, user string, at time.Time, code int, ip, country string) sinks.SignInRecord {
		si := SignIn(id, user, user+"@contoso.example", at, code)
		si.IPAddress, si.Location.CountryOrRegion, si.ClientAppUsed = ip, country, "Browser"
		return Record(si, 0)
	}
	interrupt := mk("R-1", "u5", T0.Add(4*time.Minute), 50074, "198.51.100.3", "FR") // MFA required: not a failure
	interrupt.IsFailure = false
	ok := mk("OK-1", "u4", T0.Add(3*time.Minute), 0, "198.51.100.1", "FR")
	batch := &sinks.Batch{SignIns: []sinks.SignInRecord{
		mk("F-1", "u1", T0.Add(1*time.Minute), 50126, "198.51.100.1", "FR"),
		mk("F-2", "u2", T0.Add(2*time.Minute), 50126, "198.51.100.1", "FR"),
		mk("F-3", "u3", T0.Add(6*time.Minute), 53003, "198.51.100.2", "DE"),
		ok, interrupt,
	}}
	batch.Findings = []schemas.Finding{{ID: "f1", SignInID: "F-1", Scenario: "invalid_credentials", OccurredAt: T0.Add(time.Minute), UserKey: "u1"},
		{ID: "f3", SignInID: "F-3", Scenario: "blocked_by_conditional_access", OccurredAt: T0.Add(6 * time.Minute), UserKey: "u3"}}
	q := func(by sinks.Dimension) sinks.CountQuery {
		return sinks.CountQuery{By: by, Step: 5 * time.Minute, From: T0, To: T0.Add(time.Hour)}
	}
	write(t, s, batch)
	once := map[sinks.Dimension][]string{}
	for _, by := range sinks.Dimensions {
		once[by] = countsOf(t, s, q(by))
	}
	for by, want := range map[sinks.Dimension][]string{
		sinks.DimErrorCode: {"09:00 50126=2", "09:05 53003=1"},
		sinks.DimScenario:  {"09:00 =1", "09:00 invalid_credentials=1", "09:05 blocked_by_conditional_access=1"},
		sinks.DimApp:       {"09:00 Azure Portal=2", "09:05 Azure Portal=1"},
		sinks.DimClientApp: {"09:00 Browser=2", "09:05 Browser=1"},
		sinks.DimCountry:   {"09:00 FR=2", "09:05 DE=1"},
		sinks.DimIP:        {"09:00 198.51.100.1=2", "09:05 198.51.100.2=1"},
		sinks.DimAll:       {"09:00 all=2", "09:05 all=1"},
	} {
		if !reflect.DeepEqual(once[by], want) {
			t.Errorf("by %s after one write: %v, want %v", by, once[by], want)
		}
	}

	// The replay: every count stays.
	write(t, s, batch)
	for _, by := range sinks.Dimensions {
		if got := countsOf(t, s, q(by)); !reflect.DeepEqual(got, once[by]) {
			t.Errorf("by %s after the replay: %v, want %v", by, got, once[by])
		}
	}
	// Counts of every sign-in, and of those with a finding: the success
	// and the interrupt count among the sign-ins, once after the replay.
	populations := map[string][]string{
		"signins by all":       countsOf(t, s, sinks.CountQuery{By: sinks.DimAll, Of: sinks.OfSignIns, Step: 5 * time.Minute, From: T0, To: T0.Add(time.Hour)}),
		"signins by country":   countsOf(t, s, sinks.CountQuery{By: sinks.DimCountry, Of: sinks.OfSignIns, Step: 5 * time.Minute, From: T0, To: T0.Add(time.Hour)}),
		"findings by scenario": countsOf(t, s, sinks.CountQuery{By: sinks.DimScenario, Of: sinks.OfFindings, Step: 5 * time.Minute, From: T0, To: T0.Add(time.Hour)}),
		"failures by all":      countsOf(t, s, sinks.CountQuery{By: sinks.DimAll, Of: sinks.OfFailures, Step: 5 * time.Minute, From: T0, To: T0.Add(time.Hour)}),
	}
	for name, want := range map[string][]string{
		"signins by all":       {"09:00 all=4", "09:05 all=1"},
		"signins by country":   {"09:00 FR=4", "09:05 DE=1"},
		"findings by scenario": {"09:00 invalid_credentials=1", "09:05 blocked_by_conditional_access=1"},
		"failures by all":      {"09:00 all=2", "09:05 all=1"},
	} {
		if !reflect.DeepEqual(populations[name], want) {
			t.Errorf("%s: %v, want %v", name, populations[name], want)
		}
	}
	if _, err := s.FailureCounts(ctx, sinks.CountQuery{By: sinks.DimAll, Of: "everything", Step: time.Minute, From: T0, To: T0.Add(time.Hour)}); !errors.Is(err, sinks.ErrInvalidQuery) {
		t.Errorf("an unknown population: %v, want ErrInvalidQuery", err)
	}

	// The interrupt completes as a failure 30 s later (Entra re-emits the
	// sign-in under its id), and that version is delivered twice. (A
	// failure re-emitted as a success, or into another bucket, is left
	// out: ClickHouse counts every failed version of a bucket, a known
	// limit of docs/spikes.md the contract does not settle.)
	failed := mk("R-1", "u5", T0.Add(4*time.Minute+30*time.Second), 500121, "198.51.100.3", "FR")
	laterWrite()
	write(t, s, &sinks.Batch{SignIns: []sinks.SignInRecord{failed}}, &sinks.Batch{SignIns: []sinks.SignInRecord{failed}})
	b.settled(t, s, func(t *testing.T) {
		if got, want := countsOf(t, s, q(sinks.DimErrorCode)), []string{"09:00 500121=1", "09:00 50126=2", "09:05 53003=1"}; !reflect.DeepEqual(got, want) {
			t.Errorf("by error code after the re-emissions: %v, want %v", got, want)
		}
		if got, want := countsOf(t, s, q(sinks.DimAll)), []string{"09:00 all=3", "09:05 all=1"}; !reflect.DeepEqual(got, want) {
			t.Errorf("tenant-wide after the re-emissions: %v, want %v", got, want)
		}
		if got, want := countsOf(t, s, q(sinks.DimCountry)), []string{"09:00 FR=3", "09:05 DE=1"}; !reflect.DeepEqual(got, want) {
			t.Errorf("by country after the re-emissions: %v, want %v", got, want)
		}
		narrow := sinks.CountQuery{By: sinks.DimErrorCode, Step: 5 * time.Minute, From: T0, To: T0.Add(10 * time.Minute), Values: []string{"53003"}}
		if got, want := countsOf(t, s, narrow), []string{"09:05 53003=1"}; !reflect.DeepEqual(got, want) {
			t.Errorf("one value: %v, want %v", got, want)
		}
		// [From, To) and Within narrow by event time.
		within := sinks.CountQuery{By: sinks.DimAll, Step: time.Minute, From: T0, To: T0.Add(time.Hour),
			Within: [][2]time.Time{{T0.Add(time.Minute), T0.Add(2 * time.Minute)}, {T0.Add(6 * time.Minute), T0.Add(7 * time.Minute)}}}
		if got, want := countsOf(t, s, within), []string{"09:01 all=1", "09:06 all=1"}; !reflect.DeepEqual(got, want) {
			t.Errorf("within: %v, want %v", got, want)
		}
		halfOpen := sinks.CountQuery{By: sinks.DimAll, Step: time.Minute, From: T0.Add(time.Minute), To: T0.Add(6 * time.Minute)}
		if got, want := countsOf(t, s, halfOpen), []string{"09:01 all=1", "09:02 all=1", "09:04 all=1"}; !reflect.DeepEqual(got, want) {
			t.Errorf("[+1m, +6m): %v, want %v", got, want)
		}

		top, err := s.TopValues(ctx, sinks.DimIP, T0, T0.Add(time.Hour), 2)
		if err != nil {
			t.Fatal(err)
		}
		// .3 ties .2 and sorts after it.
		if want := []sinks.ValueCount{{Value: "198.51.100.1", Count: 2}, {Value: "198.51.100.2", Count: 1}}; !reflect.DeepEqual(top, want) {
			t.Errorf("top IPs: %+v, want %+v", top, want)
		}
		top, err = s.TopValues(ctx, sinks.DimCountry, T0, T0.Add(time.Hour), 5)
		if err != nil {
			t.Fatal(err)
		}
		if want := []sinks.ValueCount{{Value: "FR", Count: 3}, {Value: "DE", Count: 1}}; !reflect.DeepEqual(top, want) {
			t.Errorf("top countries: %+v, want %+v", top, want)
		}
		c, err := s.SpikeContributors(ctx, sinks.DimCountry, "FR", T0, T0.Add(time.Hour), 5)
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(c.Users)
		sort.Strings(c.IPs)
		sort.Strings(c.ErrorCodes)
		if want := []string{"u1", "u2", "u5"}; !reflect.DeepEqual(c.Users, want) || !reflect.DeepEqual(c.Apps, []string{"Azure Portal"}) ||
			!reflect.DeepEqual(c.IPs, []string{"198.51.100.1", "198.51.100.3"}) || !reflect.DeepEqual(c.ErrorCodes, []string{"500121", "50126"}) {
			t.Errorf("contributors: %+v, want users %v", c, want)
		}
		if _, err := s.FailureCounts(ctx, sinks.CountQuery{By: "nope", Step: time.Minute, From: T0, To: T0.Add(time.Hour)}); err == nil {
			t.Error("an unknown dimension was accepted")
		}
	})
}
