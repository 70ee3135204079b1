package sinkstest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

// pageFlagged reads every page of Flagged, limit flags at a time, as the
// API does (a short page is the last), and names each entry as
// id@flaggedBy.
func pageFlagged(t *testing.T, s sinks.Reader, limit int) string {
	t.Helper()
	var seen []string
	q := sinks.FlaggedQuery{Limit: limit}
	for page := 0; ; page++ {
		if page > 20 {
			t.Fatalf("paging does not end: %v", seen)
		}
		got, err := s.Flagged(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range got {
			seen = append(seen, f.SignIn.ID+"@"+f.FlaggedBy)
			if !f.SignIn.FlaggedForReview {
				t.Errorf("%s not marked flagged", f.SignIn.ID)
			}
		}
		if len(got) < limit {
			break
		}
		last := got[len(got)-1]
		q.Before, q.BeforeID = last.FlaggedAt, last.FlagID
	}
	return strings.Join(seen, ",")
}

func testFlaggedOrder(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	a := SignIn("F-A", "user-f", "fa@contoso.example", T0, 53003)
	bb := SignIn("F-B", "user-f", "fa@contoso.example", T0.Add(time.Minute), 50126)
	c := SignIn("F-C", "user-g", "gb@contoso.example", T0.Add(2*time.Minute), 0)
	unflagged := SignIn("F-D", "user-g", "gb@contoso.example", T0.Add(3*time.Minute), 0)
	flags := []schemas.Flag{
		{ID: "1", SignInID: "F-A", UserID: "user-f", FlaggedAt: T0.Add(10 * time.Minute), FlaggedBy: "helpdesk"},
		{ID: "2", CorrelationID: "corr-F-B", UserID: "user-f", FlaggedAt: T0.Add(30 * time.Minute), FlaggedBy: "user"},
		{ID: "3", RequestID: "F-C", UserPrincipalName: "gb@contoso.example", FlaggedAt: T0.Add(20 * time.Minute), FlaggedBy: "admin:x@contoso.example"},
		{ID: "4", SignInID: "F-A", UserID: "user-f", FlaggedAt: T0.Add(5 * time.Minute), FlaggedBy: "user"}, // older flag of F-A
		{ID: "5", SignInID: "not-stored-yet", UserID: "user-f", FlaggedAt: T0.Add(40 * time.Minute)},
		// F-B named by another key, earlier: it stays under flag 2.
		{ID: "6", SignInID: "F-B", UserID: "user-f", FlaggedAt: T0.Add(time.Minute), FlaggedBy: "earlier"},
	}
	batch := &sinks.Batch{SignIns: []sinks.SignInRecord{Record(a, 0), Record(bb, 1), Record(c, 2), Record(unflagged, 3)}, Flags: flags}
	write(t, s, batch, batch) // and its replay
	b.settled(t, s, func(t *testing.T) {
		got, err := s.Flagged(ctx, sinks.FlaggedQuery{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var entries []string
		for _, f := range got {
			entries = append(entries, fmt.Sprintf("%s@%s/%s@%s", f.SignIn.ID, f.FlaggedBy, f.FlagID, f.FlaggedAt.Sub(T0)))
		}
		if want := "F-B@user/2@30m0s,F-C@admin:x@contoso.example/3@20m0s,F-A@helpdesk/1@10m0s"; strings.Join(entries, ",") != want {
			t.Fatalf("flagged = %v, want %s", entries, want)
		}
		page, err := s.Flagged(ctx, sinks.FlaggedQuery{Limit: 100, Before: T0.Add(20 * time.Minute)})
		if err != nil || len(page) != 1 || page[0].SignIn.ID != "F-A" {
			t.Fatalf("page before +20m: %+v %v, want F-A only", page, err)
		}
		// The newest flag names a sign-in not stored: it must not make
		// a short page, which would end the paging there. F-B, named
		// again by flag 6 on a later page, is listed once.
		if got, want := pageFlagged(t, s, 1), "F-B@user,F-C@admin:x@contoso.example,F-A@helpdesk"; got != want {
			t.Errorf("pages of one = %s, want %s", got, want)
		}
	})
}

// Flags of the same second across a page boundary: every flagged sign-in
// is listed exactly once over the pages (the cursor is time and flag id).
func testFlaggedSameSecond(t *testing.T, b Backend) {
	s := b.Open(t)
	var rows []sinks.SignInRecord
	var flags []schemas.Flag
	same := T0.Add(time.Hour) // five flags in one second
	for i := range 7 {
		id := fmt.Sprintf("P-%d", i)
		rows = append(rows, Record(SignIn(id, "user-p", "pp@contoso.example", T0.Add(time.Duration(i)*time.Minute), 50126), int64(i)))
		at := same
		if i >= 5 {
			at = T0.Add(time.Duration(i) * time.Second) // older flags
		}
		flags = append(flags, schemas.Flag{ID: fmt.Sprintf("flag-%d", i), SignInID: id, UserID: "user-p", FlaggedAt: at, FlaggedBy: "u"})
	}
	write(t, s, &sinks.Batch{SignIns: rows, Flags: flags})
	b.settled(t, s, func(t *testing.T) {
		for _, limit := range []int{1, 2, 3, 100} {
			if got, want := pageFlagged(t, s, limit), "P-4@u,P-3@u,P-2@u,P-1@u,P-0@u,P-6@u,P-5@u"; got != want {
				t.Fatalf("pages of %d listed %s, want %s", limit, got, want)
			}
		}
	})
}

// Flags far apart in time are paged in order, and a target flagged twice
// is listed once, under its latest flag, even when the earlier flag is
// days older.
func testFlaggedAcrossDays(t *testing.T, b Backend) {
	s := b.Open(t)
	now := time.Now().UTC().Truncate(time.Second)
	ages := []time.Duration{time.Hour, 2 * 24 * time.Hour, 10 * 24 * time.Hour, 100 * 24 * time.Hour}
	var recs []sinks.SignInRecord
	var flags []schemas.Flag
	for i, age := range ages {
		si := SignIn(fmt.Sprintf("D-%d", i), "user-d", "d@contoso.example", now.Add(-age-time.Minute), 50126)
		recs = append(recs, Record(si, int64(i)))
		flags = append(flags, schemas.Flag{ID: fmt.Sprintf("f%d", i), SignInID: si.ID, UserID: "user-d", FlaggedAt: now.Add(-age), FlaggedBy: "helpdesk"})
	}
	// D-3 (100 days old) is flagged again 3 hours ago: it belongs between D-0 and D-1.
	flags = append(flags, schemas.Flag{ID: "again", SignInID: "D-3", UserID: "user-d", FlaggedAt: now.Add(-3 * time.Hour), FlaggedBy: "admin"})
	write(t, s, &sinks.Batch{SignIns: recs, Flags: flags})
	b.settled(t, s, func(t *testing.T) {
		for _, limit := range []int{2, 100} {
			if got := pageFlagged(t, s, limit); got != "D-0@helpdesk,D-3@admin,D-1@helpdesk,D-2@helpdesk" {
				t.Fatalf("pages of %d = %s", limit, got)
			}
		}
	})
}

func testEvidence(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	var rows []sinks.SignInRecord
	add := func(id string, at time.Time, code int, ip, client string) {
		si := SignIn(id, "user-h", "hu@contoso.example", at, code)
		si.IPAddress, si.ClientAppUsed = ip, client
		si.DeviceDetail.OperatingSystem = "Windows10"
		rows = append(rows, Record(si, int64(len(rows))))
	}
	for i := range 4 {
		add(fmt.Sprint("e", i), T0.Add(time.Duration(i)*time.Minute), 50126, "198.51.100.7", "IMAP4")
	}
	add("e4", T0.Add(5*time.Minute), 50053, "203.0.113.9", "Browser")
	add("ok", T0.Add(6*time.Minute), 0, "203.0.113.9", "Browser")
	add("old", T0.Add(-49*time.Hour), 50126, "192.0.2.1", "Browser")
	rows = append(rows, rows[0]) // a replayed row counts once
	other := SignIn("x1", "user-x", "xx@contoso.example", T0.Add(2*time.Minute), 50053)
	other.IPAddress, other.ClientAppUsed = "203.0.113.9", "Browser"
	rows = append(rows, Record(other, 99))
	write(t, s, &sinks.Batch{SignIns: rows})
	write(t, s, &sinks.Batch{SignIns: rows[:2]}) // a replay of the first rows
	b.settled(t, s, func(t *testing.T) {
		ev, err := s.Evidence(ctx, sinks.EvidenceQuery{UserKey: "user-h", From: T0.Add(-48 * time.Hour), To: T0.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if ev.Failures != 5 {
			t.Fatalf("failures = %d, want 5", ev.Failures)
		}
		if fmt.Sprint(ev.TopIPs) != "[{198.51.100.7 4} {203.0.113.9 1}]" {
			t.Errorf("top IPs = %v", ev.TopIPs)
		}
		if fmt.Sprint(ev.TopClients) != "[{IMAP4 4} {Browser 1}]" {
			t.Errorf("top clients = %v", ev.TopClients)
		}
		if fmt.Sprint(ev.TopCodes) != "[{50126 4} {50053 1}]" {
			t.Errorf("top codes = %v", ev.TopCodes)
		}
		if len(ev.TopApps) != 1 || ev.TopApps[0].Count != 5 || len(ev.TopDevices) != 1 || ev.TopDevices[0].Count != 5 {
			t.Errorf("apps %v devices %v", ev.TopApps, ev.TopDevices)
		}
		if ev.DistinctUsers != 1 || fmt.Sprint(ev.TopUsers) != "[{hu@contoso.example 5}]" {
			t.Errorf("users %d, top users %v", ev.DistinctUsers, ev.TopUsers)
		}
		byIP, err := s.Evidence(ctx, sinks.EvidenceQuery{IP: "203.0.113.9", From: T0, To: T0.Add(time.Hour), Codes: []int{50053}})
		if err != nil || byIP.Failures != 2 || byIP.DistinctUsers != 2 {
			t.Fatalf("by IP: %+v %v, want 2 failures of 2 users", byIP, err)
		}
		// (From, To]: e0 at T0 is outside, e1…e3 inside.
		narrow, err := s.Evidence(ctx, sinks.EvidenceQuery{UserKey: "user-h", From: T0, To: T0.Add(3 * time.Minute), Codes: []int{50126}})
		if err != nil || narrow.Failures != 3 {
			t.Fatalf("(T0, +3m]: %+v %v, want 3 failures", narrow, err)
		}
	})
}

// A flagged sign-in re-emitted later is listed as its latest version,
// whether the flag came before both versions or between them.
func testFlaggedShowsTheLatestVersion(t *testing.T, b Backend) {
	s := b.Open(t)
	between := SignIn("L-1", "user-l", "lu@contoso.example", T0, 50074)
	first := SignIn("L-2", "user-l", "lu@contoso.example", T0.Add(time.Minute), 50074)
	write(t, s, &sinks.Batch{Flags: []schemas.Flag{
		{ID: "l2", SignInID: "L-2", UserID: "user-l", FlaggedAt: T0.Add(time.Hour), FlaggedBy: "first"}}})
	laterWrite()
	write(t, s, &sinks.Batch{SignIns: []sinks.SignInRecord{Record(between, 0), Record(first, 1)}})
	laterWrite()
	write(t, s, &sinks.Batch{Flags: []schemas.Flag{
		{ID: "l1", CorrelationID: "corr-L-1", UserID: "user-l", FlaggedAt: T0.Add(2 * time.Hour), FlaggedBy: "between"}}})
	for i, si := range []*schemas.SignIn{&between, &first} {
		// Entra re-emits the completed sign-in under the same id, later.
		si.Status = schemas.Status{ErrorCode: 0, FailureReason: "completed later"}
		si.CreatedDateTime = si.CreatedDateTime.Add(18 * time.Second)
		laterWrite()
		write(t, s, &sinks.Batch{SignIns: []sinks.SignInRecord{Record(*si, int64(2+i))}})
	}
	b.settled(t, s, func(t *testing.T) {
		got, err := s.Flagged(context.Background(), sinks.FlaggedQuery{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var entries []string
		for _, f := range got {
			entries = append(entries, fmt.Sprintf("%s@%s:%d+%s", f.SignIn.ID, f.FlaggedBy, f.SignIn.Status.ErrorCode, f.SignIn.CreatedDateTime.Sub(T0)))
		}
		if want := "L-1@between:0+18s,L-2@first:0+1m18s"; strings.Join(entries, ",") != want {
			t.Fatalf("flagged = %v, want %s (the later versions)", entries, want)
		}
	})
}
