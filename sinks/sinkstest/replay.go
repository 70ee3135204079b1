package sinkstest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

// replayBatches are what the pipeline writes for two users over two
// flushes: a flag that arrives before its sign-in and one after, an
// interrupt re-emitted as a failure, a success, findings, the spray
// stage's candidates, an incident and the windows' watermarks.
func replayBatches() []*sinks.Batch {
	x1 := SignIn("X-1", "user-x", "x@contoso.example", T0.Add(time.Minute), 50126)
	x2 := SignIn("X-2", "user-x", "x@contoso.example", T0.Add(2*time.Minute), 50074) // MFA required: an interrupt
	y1 := SignIn("Y-1", "user-y", "y@contoso.example", T0.Add(3*time.Minute), 50053)
	y2 := SignIn("Y-2", "user-y", "y@contoso.example", T0.Add(4*time.Minute), 0)
	x1.IPAddress, x2.IPAddress, y1.IPAddress, y2.IPAddress = "198.51.100.7", "198.51.100.7", "203.0.113.9", "203.0.113.9"
	x2done := x2 // Entra re-emits the interrupt, completed as a failure, 30 s later
	x2done.CreatedDateTime, x2done.Status.ErrorCode = x2.CreatedDateTime.Add(30*time.Second), 500121
	interrupt := Record(x2, 1)
	interrupt.IsFailure = false
	flagFirst := &sinks.Batch{Flags: []schemas.Flag{{ID: "fe", SignInID: "X-2", UserID: "user-x", FlaggedAt: T0.Add(10 * time.Minute), FlaggedBy: "user"}}}
	first := &sinks.Batch{
		SignIns:    []sinks.SignInRecord{Record(x1, 0), interrupt, Record(y1, 2)},
		Findings:   []schemas.Finding{Finding(x1, "invalid_credentials", "low"), Finding(y1, "account_locked", "medium")},
		Watermarks: []sinks.WatermarkRecord{{Stage: sinks.WindowUsers, Shard: 0, Offset: 2, At: y1.CreatedDateTime}},
	}
	second := &sinks.Batch{
		SignIns:  []sinks.SignInRecord{Record(x2done, 3), Record(y2, 4)},
		Findings: []schemas.Finding{Finding(x2done, "mfa_denied", "medium")},
		Flags:    []schemas.Flag{{ID: "fl", CorrelationID: "CORR-Y-1", UserID: "user-y", FlaggedAt: T0.Add(20 * time.Minute), FlaggedBy: "helpdesk"}},
		IPFailures: []sinks.IPFailureRecord{
			{IP: x1.IPAddress, UserKey: "user-x", Identity: x1.Identity(), At: x1.CreatedDateTime, Offset: 0},
			{IP: x2done.IPAddress, UserKey: "user-x", Identity: x2done.Identity(), At: x2done.CreatedDateTime, Offset: 1},
		},
		Incidents: []sinks.IncidentRecord{{ID: "i-x", Detection: "mfa_fatigue", Key: "user-x", Start: x2done.CreatedDateTime,
			First: x1.CreatedDateTime, Last: x2done.CreatedDateTime, Count: 2, Severity: "high", Title: "t"}},
		Watermarks: []sinks.WatermarkRecord{{Stage: sinks.WindowUsers, Shard: 0, Offset: 4, At: y2.CreatedDateTime},
			{Stage: sinks.WindowIPs, Shard: 0, Offset: 1, At: x2done.CreatedDateTime}},
	}
	return []*sinks.Batch{flagFirst, first, second}
}

func commas(items []string) string { return strings.Join(items, ", ") }

// replayWant is what every query of apiAnswers returns after
// replayBatches, one line per answer.
var replayWant = []string{
	"SignIns x@contoso.example: X-2 500121 +2m30s flagged, X-1 50126 +1m0s",
	"SignIns user-y: Y-2 0 +4m0s, Y-1 50053 +3m0s flagged",
	"SignIns requestId x-2: X-2 500121 +2m30s flagged",
	"SignIns correlationId corr-y-1: Y-1 50053 +3m0s flagged",
	"Findings: X-1 invalid_credentials 50126, X-2 mfa_denied 500121 flagged, Y-1 account_locked 50053 flagged",
	"FailureCount user-x: 2",
	"FailureCount y@contoso.example: 1",
	"FailureCount user-x (+1m, +2m]: 0",
	"Flagged: Y-1@helpdesk/fl +20m0s, X-2@user/fe +10m0s",
	"Evidence user-x: 2 failures, 1 users, IPs [{198.51.100.7 2}], codes [500121 50126]",
	"Evidence 203.0.113.9: 1 failures, 1 users, IPs [{203.0.113.9 1}], codes [50053]",
	"ListSignIns: Y-2 0 +4m0s, Y-1 50053 +3m0s flagged, X-2 500121 +2m30s flagged, X-1 50126 +1m0s",
	"ListSignIns errorCode 50074: ",
	"ListSignIns errorCode 500121: X-2 500121 +2m30s flagged",
	"ListFindings: Y-1 account_locked 50053 flagged, X-2 mfa_denied 500121 flagged, X-1 invalid_credentials 50126",
	"ListFindings flagged: Y-1 account_locked 50053 flagged, X-2 mfa_denied 500121 flagged",
	"FailureCounts all: [09:00 all=3]",
	"FailureCounts errorCode: [09:00 500121=1 09:00 50053=1 09:00 50126=1]",
	"TopValues ip: [{198.51.100.7 2} {203.0.113.9 1}]",
	"SpikeContributors ip 198.51.100.7: users [user-x] apps [Azure Portal] ips [198.51.100.7] codes [500121 50126]",
	"Incidents: i-x mfa_fatigue user-x 2 +1m0s..+2m30s",
	"WindowWatermark user before 5: +4m0s",
	"RecentFailures before 5: X-1 50126 +1m0s, X-2 500121 +2m30s, Y-1 50053 +3m0s",
	"WindowWatermark user before 3: +3m0s",
	"RecentFailures before 3: X-1 50126 +1m0s, Y-1 50053 +3m0s",
	"WindowWatermark ip before 2: +2m30s",
	"RecentIPFailures before 2: X-1@0 +1m0s, X-2@1 +2m30s",
	"IncidentWarmSpan: 3m0.001s",
}

// Every query the API, the spike detector and the window rebuild make
// returns the same answers after the batches are written, after a replay
// writes them all again, and after the backend settles.
func testEveryQuerySurvivesReplays(t *testing.T, b Backend) {
	s := b.Open(t)
	for _, batch := range replayBatches() {
		laterWrite()
		write(t, s, batch)
	}
	checkAnswers(t, s, "written once")
	for _, batch := range replayBatches() { // a crash before the commit: all again
		laterWrite()
		write(t, s, batch)
	}
	b.settled(t, s, func(t *testing.T) { checkAnswers(t, s, "replayed") })
}

// What a backend derives at write time and backfills when a migration
// adds it (Backend.Rebuild) gives the answers the writes gave.
func testRebuiltTablesGiveTheSameAnswers(t *testing.T, b Backend) {
	if b.Rebuild == nil {
		t.Skip("the backend derives nothing at write time")
	}
	s := b.Open(t)
	for _, batch := range replayBatches() {
		laterWrite()
		write(t, s, batch)
	}
	checkAnswers(t, s, "written")
	b.Rebuild(t, s)
	b.settled(t, s, func(t *testing.T) { checkAnswers(t, s, "rebuilt") })
}

// checkAnswers compares every reader's answers with replayWant.
func checkAnswers(t *testing.T, s sinks.Store, when string) {
	t.Helper()
	got := apiAnswers(t, s)
	if strings.Join(got, "\n") == strings.Join(replayWant, "\n") {
		return
	}
	for i := range max(len(got), len(replayWant)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(replayWant) {
			w = replayWant[i]
		}
		if g != w {
			t.Errorf("%s:\n got  %s\n want %s", when, g, w)
		}
	}
}

// apiAnswers asks every reader of s about replayBatches' data and
// renders the answers, one line each.
func apiAnswers(t *testing.T, s sinks.Store) []string {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	since := func(at time.Time) string { return "+" + at.Sub(T0).String() }
	signIns := func(list []schemas.SignIn) string {
		out := make([]string, 0, len(list))
		for _, si := range list {
			line := fmt.Sprintf("%s %d %s", si.ID, si.Status.ErrorCode, since(si.CreatedDateTime))
			if si.FlaggedForReview {
				line += " flagged"
			}
			out = append(out, line)
		}
		return commas(out)
	}
	findings := func(list []schemas.Finding) string {
		out := make([]string, 0, len(list))
		for _, f := range list {
			line := fmt.Sprintf("%s %s %d", f.SignInID, f.Scenario, f.ErrorCode)
			if f.Flagged {
				line += " flagged"
			}
			out = append(out, line)
		}
		return commas(out)
	}
	var lines []string
	add := func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }
	from, to := T0.Add(-time.Hour), T0.Add(time.Hour)

	var all []schemas.SignIn
	for _, q := range []sinks.SignInQuery{
		{User: "x@contoso.example", From: from, To: to},
		{User: "user-y", From: from, To: to},
		{RequestID: "x-2"},
		{CorrelationID: "corr-y-1"},
	} {
		got, err := s.SignIns(ctx, q)
		must(err)
		name := "SignIns " + q.User
		if q.RequestID != "" {
			name = "SignIns requestId " + q.RequestID
		}
		if q.CorrelationID != "" {
			name = "SignIns correlationId " + q.CorrelationID
		}
		add("%s: %s", name, signIns(got))
		if q.User != "" {
			all = append(all, got...)
		}
	}
	fs, err := s.Findings(ctx, all)
	must(err)
	sort.Slice(fs, func(i, j int) bool { return fs[i].SignInID < fs[j].SignInID }) // Findings promises no order
	add("Findings: %s", findings(fs))
	for _, c := range []struct {
		user     string
		from, to time.Time
		name     string
	}{{"user-x", T0, to, "user-x"}, {"y@contoso.example", T0, to, "y@contoso.example"}, {"user-x", T0.Add(time.Minute), T0.Add(2 * time.Minute), "user-x (+1m, +2m]"}} {
		n, err := s.FailureCount(ctx, c.user, c.from, c.to)
		must(err)
		add("FailureCount %s: %d", c.name, n)
	}
	flagged, err := s.Flagged(ctx, sinks.FlaggedQuery{Limit: 10})
	must(err)
	var fl []string
	for _, f := range flagged {
		fl = append(fl, fmt.Sprintf("%s@%s/%s %s", f.SignIn.ID, f.FlaggedBy, f.FlagID, since(f.FlaggedAt)))
	}
	add("Flagged: %s", commas(fl))
	for _, q := range []sinks.EvidenceQuery{{UserKey: "user-x", From: T0, To: to}, {IP: "203.0.113.9", From: T0, To: to}} {
		ev, err := s.Evidence(ctx, q)
		must(err)
		var codes []string
		for _, c := range ev.TopCodes {
			codes = append(codes, c.Value)
		}
		sort.Strings(codes) // ties have no order
		add("Evidence %s%s: %d failures, %d users, IPs %v, codes %v", q.UserKey, q.IP, ev.Failures, ev.DistinctUsers, ev.TopIPs, codes)
	}
	code50074, code500121 := 50074, 500121
	for _, c := range []struct {
		name string
		code *int
	}{{"", nil}, {" errorCode 50074", &code50074}, {" errorCode 500121", &code500121}} {
		got, err := s.ListSignIns(ctx, sinks.SignInListQuery{From: from, To: to, ErrorCode: c.code})
		must(err)
		add("ListSignIns%s: %s", c.name, signIns(got))
	}
	yes := true
	for _, c := range []struct {
		name    string
		flagged *bool
	}{{"", nil}, {" flagged", &yes}} {
		got, err := s.ListFindings(ctx, sinks.FindingListQuery{From: from, To: to, Flagged: c.flagged})
		must(err)
		add("ListFindings%s: %s", c.name, findings(got))
	}
	for _, by := range []sinks.Dimension{sinks.DimAll, sinks.DimErrorCode} {
		add("FailureCounts %s: %v", by, countsOf(t, s, sinks.CountQuery{By: by, Step: 5 * time.Minute, From: T0, To: to}))
	}
	top, err := s.TopValues(ctx, sinks.DimIP, T0, to, 5)
	must(err)
	add("TopValues ip: %v", top)
	c, err := s.SpikeContributors(ctx, sinks.DimIP, "198.51.100.7", T0, to, 5)
	must(err)
	sort.Strings(c.ErrorCodes) // ties have no order
	add("SpikeContributors ip 198.51.100.7: users %v apps %v ips %v codes %v", c.Users, c.Apps, c.IPs, c.ErrorCodes)
	incs, err := s.Incidents(ctx, sinks.IncidentQuery{})
	must(err)
	var is []string
	for _, r := range incs {
		is = append(is, fmt.Sprintf("%s %s %s %d %s..%s", r.ID, r.Detection, r.Key, r.Count, since(r.First), since(r.Last)))
	}
	add("Incidents: %s", commas(is))
	for _, before := range []int64{5, 3} {
		wm, err := s.WindowWatermark(ctx, sinks.WindowUsers, 0, before)
		must(err)
		add("WindowWatermark user before %d: %s", before, since(wm))
		rs, err := s.RecentFailures(ctx, 0, before, 48*time.Hour)
		must(err)
		seen := map[string]bool{}
		var out []string
		for _, r := range rs {
			line := fmt.Sprintf("%s %d %s", strings.TrimPrefix(r.Identity, schemas.CategoryInteractive+"/"), r.ErrorCode, since(r.At))
			if !seen[line] { // the window drops duplicates
				seen[line] = true
				out = append(out, line)
			}
		}
		sort.Strings(out)
		add("RecentFailures before %d: %s", before, commas(out))
	}
	wm, err := s.WindowWatermark(ctx, sinks.WindowIPs, 0, 2)
	must(err)
	add("WindowWatermark ip before 2: %s", since(wm))
	ips, err := s.RecentIPFailures(ctx, 0, 2, time.Hour)
	must(err)
	seen := map[string]bool{}
	var out []string
	for _, r := range ips {
		line := fmt.Sprintf("%s@%d %s", strings.TrimPrefix(r.Identity, schemas.CategoryInteractive+"/"), r.Offset, since(r.At))
		if !seen[line] {
			seen[line] = true
			out = append(out, line)
		}
	}
	sort.Strings(out)
	add("RecentIPFailures before 2: %s", commas(out))
	span, err := s.IncidentWarmSpan(ctx, "user", []string{"mfa_fatigue"}, 0, 5, 2*time.Minute)
	must(err)
	add("IncidentWarmSpan: %s", span)
	return lines
}
