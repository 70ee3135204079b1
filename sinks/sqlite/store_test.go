package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
	"github.com/signindiag/signindiag/sinks/sqlite"
)

var t0 = time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC)

func open(t *testing.T) *sqlite.Store {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "data", "signindiag.db")},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func signIn(id, user, upn string, at time.Time, code int) schemas.SignIn {
	return schemas.SignIn{ID: id, CreatedDateTime: at, UserID: user, UserPrincipalName: upn,
		AppID: "app-1", AppDisplayName: "Azure Portal", CorrelationID: "corr-" + id,
		Status: schemas.Status{ErrorCode: code}, Category: schemas.CategoryInteractive}
}

func record(si schemas.SignIn, offset int64) sinks.SignInRecord {
	return sinks.SignInRecord{SignIn: si, IsFailure: si.Status.ErrorCode != 0, Shard: 0, Offset: offset}
}

func ids(signIns []schemas.SignIn) []string {
	var out []string
	for _, s := range signIns {
		out = append(out, s.ID)
	}
	sort.Strings(out)
	return out
}

func TestMigrateTwiceIsANoOp(t *testing.T) {
	s := open(t) // applied once
	applied, err := s.Migrate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 0 {
		t.Fatalf("second migration applied %v, want nothing", applied)
	}
}

func TestWriteIsIdempotentAndLookupsFindTheSignIn(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	si := signIn("S-1", "User-A", "Ana@Contoso.example", t0.Add(123*time.Millisecond), 50126)
	f := schemas.Finding{ID: schemas.FindingID("invalid_credentials", si.ID), SignInID: si.ID, CorrelationID: si.CorrelationID,
		UserID: si.UserID, OccurredAt: si.CreatedDateTime, Scenario: "invalid_credentials", Severity: "low",
		Recommendations: []string{"retry"}, ErrorCode: 50126, Failures48h: 1, UserKey: si.UserKey()}
	batch := &sinks.Batch{SignIns: []sinks.SignInRecord{record(si, 0)}, Findings: []schemas.Finding{f}}
	for range 3 { // a replay writes the same rows again
		if err := s.Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	for name, q := range map[string]sinks.SignInQuery{
		"correlationId": {CorrelationID: "CORR-S-1"},
		"requestId":     {RequestID: "s-1"},
		"object id":     {User: "user-a", From: t0.Add(-time.Hour), To: t0.Add(time.Hour)},
		"upn":           {User: "ana@contoso.example", From: t0.Add(-time.Hour), To: t0.Add(time.Hour)},
		"upn and app":   {User: "ana@contoso.example", App: "azure portal", From: t0.Add(-time.Hour), To: t0.Add(time.Hour)},
	} {
		got, err := s.SignIns(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got) != 1 || got[0].ID != "S-1" || !got[0].CreatedDateTime.Equal(si.CreatedDateTime) {
			t.Fatalf("%s: got %+v, want S-1 once", name, got)
		}
		findings, err := s.Findings(ctx, got)
		if err != nil {
			t.Fatal(err)
		}
		if len(findings) != 1 || findings[0].ID != f.ID || findings[0].Failures48h != 1 || findings[0].Recommendations[0] != "retry" {
			t.Fatalf("%s: findings %+v, want the one finding once", name, findings)
		}
	}
	for name, q := range map[string]sinks.SignInQuery{
		"other app":     {User: "user-a", App: "Teams", From: t0.Add(-time.Hour), To: t0.Add(time.Hour)},
		"other time":    {User: "user-a", From: t0.Add(time.Hour), To: t0.Add(2 * time.Hour)},
		"unknown corr":  {CorrelationID: "nope"},
		"injection try": {CorrelationID: "x' OR '1'='1"},
	} {
		got, err := s.SignIns(ctx, q)
		if err != nil || len(got) != 0 {
			t.Fatalf("%s: got %v %v, want nothing", name, got, err)
		}
	}
}

func TestLaterVersionOfASignInReplacesTheEarlier(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	si := signIn("S-2", "u", "", t0, 50074)
	if err := s.Write(ctx, &sinks.Batch{SignIns: []sinks.SignInRecord{record(si, 0)}}); err != nil {
		t.Fatal(err)
	}
	// Entra re-emits the completed sign-in under the same id, 18s later
	// (as in aad_signin_random.json).
	si.Status = schemas.Status{ErrorCode: 0, FailureReason: "completed later"}
	si.CreatedDateTime = si.CreatedDateTime.Add(18 * time.Second)
	time.Sleep(2 * time.Millisecond) // versions are write times
	if err := s.Write(ctx, &sinks.Batch{SignIns: []sinks.SignInRecord{record(si, 1)}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.SignIns(ctx, sinks.SignInQuery{RequestID: "S-2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Status.FailureReason != "completed later" {
		t.Fatalf("got %+v, want the later version only", got)
	}
	got, err = s.SignIns(ctx, sinks.SignInQuery{User: "u", From: t0.Add(-time.Hour), To: t0.Add(time.Hour)})
	if err != nil || len(got) != 1 || got[0].Status.ErrorCode != 0 {
		t.Fatalf("user search: %+v %v, want the later version only", got, err)
	}
}

func TestFlagsMarkSignInsWhicheverArrivesFirst(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	early := schemas.Flag{ID: "f1", SignInID: "S-3", UserPrincipalName: "bo@contoso.example", FlaggedAt: t0.Add(-time.Minute)}
	if err := s.Write(ctx, &sinks.Batch{Flags: []schemas.Flag{early}}); err != nil {
		t.Fatal(err)
	}
	a := signIn("S-3", "user-b", "bo@contoso.example", t0, 53003)
	b := signIn("S-4", "user-b", "bo@contoso.example", t0.Add(time.Minute), 53003)
	c := signIn("S-5", "user-b", "bo@contoso.example", t0.Add(2*time.Minute), 53003)
	if err := s.Write(ctx, &sinks.Batch{SignIns: []sinks.SignInRecord{record(a, 0), record(b, 1), record(c, 2)},
		Findings: []schemas.Finding{{ID: "fa", SignInID: "S-3", OccurredAt: t0, Scenario: "blocked_by_conditional_access", UserKey: "user-b"}}}); err != nil {
		t.Fatal(err)
	}
	late := schemas.Flag{ID: "f2", CorrelationID: "CORR-S-4", UserID: "user-b", FlaggedAt: t0.Add(time.Hour)}
	if err := s.Write(ctx, &sinks.Batch{Flags: []schemas.Flag{late}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.SignIns(ctx, sinks.SignInQuery{User: "user-b", From: t0.Add(-time.Hour), To: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	flagged := map[string]bool{}
	for _, si := range got {
		flagged[si.ID] = si.FlaggedForReview
	}
	if len(got) != 3 || !flagged["S-3"] || !flagged["S-4"] || flagged["S-5"] {
		t.Fatalf("flagged = %v, want S-3 (flag first) and S-4 (flag later) only", flagged)
	}
	findings, err := s.Findings(ctx, got)
	if err != nil || len(findings) != 1 || !findings[0].Flagged {
		t.Fatalf("findings of a flagged sign-in: %+v %v, want flagged", findings, err)
	}
}

func TestFailureCountIsExactToTheMillisecond(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	var rows []sinks.SignInRecord
	add := func(id string, at time.Time, code int) {
		rows = append(rows, record(signIn(id, "user-c", "cy@contoso.example", at, code), int64(len(rows))))
	}
	add("f1", t0.Add(500*time.Millisecond), 50126)
	add("f2", t0.Add(time.Second+1*time.Millisecond), 50126)
	add("ok", t0.Add(2*time.Second), 0)
	add("f3", t0.Add(48*time.Hour), 50053)
	rows = append(rows, rows[0]) // a duplicate delivery counts once
	if err := s.Write(ctx, &sinks.Batch{SignIns: rows}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		from, to time.Time
		want     int
	}{
		{t0, t0.Add(500 * time.Millisecond), 1},
		{t0.Add(500 * time.Millisecond), t0.Add(time.Second + time.Millisecond), 1}, // (from, to]: f1 excluded
		{t0.Add(499 * time.Millisecond), t0.Add(48 * time.Hour), 3},
		{t0.Add(time.Second), t0.Add(time.Second), 0},
	}
	for _, c := range cases {
		for _, user := range []string{"USER-C", "cy@contoso.example"} {
			got, err := s.FailureCount(ctx, user, c.from, c.to)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("%s (%s, %s] = %d, want %d", user, c.from.Sub(t0), c.to.Sub(t0), got, c.want)
			}
		}
	}
}

func TestRecentFailuresRebuildsOnlyWhatWasCommitted(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	var rows []sinks.SignInRecord
	for i, d := range []time.Duration{0, time.Hour, 50 * time.Hour, 60 * time.Hour, 61 * time.Hour} {
		r := record(signIn("r"+string(rune('a'+i)), "user-d", "", t0.Add(d), 50126), int64(i))
		rows = append(rows, r)
	}
	other := record(signIn("other-shard", "user-e", "", t0.Add(61*time.Hour), 50126), 3)
	other.Shard = 1
	rows = append(rows, other)
	if err := s.Write(ctx, &sinks.Batch{SignIns: rows}); err != nil {
		t.Fatal(err)
	}
	// Committed offset 4: rows 0-3 of shard 0; the latest is at +60h, so a
	// 48h span keeps +50h and +60h only.
	got, err := s.RecentFailures(ctx, 0, 4, 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range got {
		names = append(names, strings.TrimPrefix(r.Identity, schemas.CategoryInteractive+"/"))
	}
	sort.Strings(names)
	if len(names) != 2 || names[0] != "rc" || names[1] != "rd" {
		t.Fatalf("rebuilt %v, want [rc rd]", names)
	}
	if got[0].AppID != "app-1" || got[0].ErrorCode != 50126 {
		t.Fatalf("rebuilt record lacks the app or code: %+v", got[0])
	}
	if got, err := s.RecentFailures(ctx, 0, 0, 48*time.Hour); err != nil || len(got) != 0 {
		t.Fatalf("nothing committed: got %v %v", got, err)
	}
}

func TestFlaggedListsMostRecentlyFlaggedFirstWithPaging(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	a := signIn("F-A", "user-f", "fa@contoso.example", t0, 53003)
	b := signIn("F-B", "user-f", "fa@contoso.example", t0.Add(time.Minute), 50126)
	c := signIn("F-C", "user-g", "gb@contoso.example", t0.Add(2*time.Minute), 0)
	unflagged := signIn("F-D", "user-g", "gb@contoso.example", t0.Add(3*time.Minute), 0)
	flags := []schemas.Flag{
		{ID: "1", SignInID: "F-A", UserID: "user-f", FlaggedAt: t0.Add(10 * time.Minute), FlaggedBy: "helpdesk"},
		{ID: "2", CorrelationID: "corr-F-B", UserID: "user-f", FlaggedAt: t0.Add(30 * time.Minute), FlaggedBy: "user"},
		{ID: "3", RequestID: "F-C", UserPrincipalName: "gb@contoso.example", FlaggedAt: t0.Add(20 * time.Minute), FlaggedBy: "admin:x@contoso.example"},
		{ID: "4", SignInID: "F-A", UserID: "user-f", FlaggedAt: t0.Add(5 * time.Minute), FlaggedBy: "user"}, // older flag of F-A
		{ID: "5", SignInID: "not-stored-yet", UserID: "user-f", FlaggedAt: t0.Add(40 * time.Minute)},
	}
	if err := s.Write(ctx, &sinks.Batch{SignIns: []sinks.SignInRecord{record(a, 0), record(b, 1), record(c, 2), record(unflagged, 3)}, Flags: flags}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Flagged(ctx, sinks.FlaggedQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, f := range got {
		order = append(order, f.SignIn.ID+"@"+f.FlaggedBy)
		if !f.SignIn.FlaggedForReview {
			t.Errorf("%s not marked flagged", f.SignIn.ID)
		}
	}
	if strings.Join(order, ",") != "F-B@user,F-C@admin:x@contoso.example,F-A@helpdesk" {
		t.Fatalf("flagged order = %v", order)
	}
	page, err := s.Flagged(ctx, sinks.FlaggedQuery{Limit: 100, Before: t0.Add(20 * time.Minute)})
	if err != nil || len(page) != 1 || page[0].SignIn.ID != "F-A" {
		t.Fatalf("page before +20m: %+v %v, want F-A only", page, err)
	}
}

func TestEvidenceSummarisesTheWindowsFailures(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	var rows []sinks.SignInRecord
	add := func(id string, at time.Time, code int, ip, client string) {
		si := signIn(id, "user-h", "hu@contoso.example", at, code)
		si.IPAddress, si.ClientAppUsed = ip, client
		si.DeviceDetail.OperatingSystem = "Windows10"
		rows = append(rows, record(si, int64(len(rows))))
	}
	for i := range 4 {
		add(fmt.Sprint("e", i), t0.Add(time.Duration(i)*time.Minute), 50126, "198.51.100.7", "IMAP4")
	}
	add("e4", t0.Add(5*time.Minute), 50053, "203.0.113.9", "Browser")
	add("ok", t0.Add(6*time.Minute), 0, "203.0.113.9", "Browser")
	add("old", t0.Add(-49*time.Hour), 50126, "192.0.2.1", "Browser")
	rows = append(rows, rows[0]) // a replayed row counts once
	if err := s.Write(ctx, &sinks.Batch{SignIns: rows}); err != nil {
		t.Fatal(err)
	}
	ev, err := s.Evidence(ctx, sinks.EvidenceQuery{UserKey: "user-h", From: t0.Add(-48 * time.Hour), To: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if ev.Failures != 5 {
		t.Fatalf("failures = %d, want 5", ev.Failures)
	}
	if len(ev.TopIPs) != 2 || ev.TopIPs[0] != (schemas.Count{Value: "198.51.100.7", Count: 4}) {
		t.Errorf("top IPs = %v", ev.TopIPs)
	}
	if len(ev.TopClients) != 2 || ev.TopClients[0] != (schemas.Count{Value: "IMAP4", Count: 4}) {
		t.Errorf("top clients = %v", ev.TopClients)
	}
	if len(ev.TopCodes) != 2 || ev.TopCodes[0] != (schemas.Count{Value: "50126", Count: 4}) || ev.TopCodes[1] != (schemas.Count{Value: "50053", Count: 1}) {
		t.Errorf("top codes = %v", ev.TopCodes)
	}
	if len(ev.TopApps) != 1 || ev.TopApps[0].Count != 5 || len(ev.TopDevices) != 1 {
		t.Errorf("apps %v devices %v", ev.TopApps, ev.TopDevices)
	}
	if ev.DistinctUsers != 1 || len(ev.TopUsers) != 1 || ev.TopUsers[0] != (schemas.Count{Value: "hu@contoso.example", Count: 5}) {
		t.Errorf("users %d, top users %v", ev.DistinctUsers, ev.TopUsers)
	}
	byIP, err := s.Evidence(ctx, sinks.EvidenceQuery{IP: "203.0.113.9", From: t0, To: t0.Add(time.Hour), Codes: []int{50053}})
	if err != nil || byIP.Failures != 1 {
		t.Fatalf("by IP: %+v %v", byIP, err)
	}
}

// A write the server refuses for a reason no retry fixes (here: the tables
// are gone) must come back marked permanent, so the pipeline stops loudly
// instead of retrying the same batch for ever.
func TestWriteErrorsRetryingCannotFixArePermanent(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	batch := &sinks.Batch{SignIns: []sinks.SignInRecord{record(signIn("p1", "u1", "u1@contoso.example", t0, 0), 1)}}
	if err := s.Write(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := s.DropTablesForTest(ctx); err != nil {
		t.Fatal(err)
	}
	err := s.Write(ctx, batch)
	if !errors.Is(err, sinks.ErrPermanent) {
		t.Fatalf("write to a missing table: err = %v, want sinks.ErrPermanent", err)
	}
}

// Flags of the same second across a page boundary: every flagged sign-in
// is listed exactly once over the pages (the cursor is time and flag id).
func TestFlaggedPagesKeepFlagsOfTheSameSecond(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	var rows []sinks.SignInRecord
	var flags []schemas.Flag
	same := t0.Add(time.Hour) // five flags in one second
	for i := range 7 {
		id := fmt.Sprintf("P-%d", i)
		rows = append(rows, record(signIn(id, "user-p", "pp@contoso.example", t0.Add(time.Duration(i)*time.Minute), 50126), int64(i)))
		at := same
		if i >= 5 {
			at = t0.Add(time.Duration(i) * time.Second) // older flags
		}
		flags = append(flags, schemas.Flag{ID: fmt.Sprintf("flag-%d", i), SignInID: id, UserID: "user-p", FlaggedAt: at})
	}
	if err := s.Write(ctx, &sinks.Batch{SignIns: rows, Flags: flags}); err != nil {
		t.Fatal(err)
	}
	var seen []string
	q := sinks.FlaggedQuery{Limit: 2}
	for page := 0; ; page++ {
		if page > 10 {
			t.Fatalf("paging does not end: %v", seen)
		}
		got, err := s.Flagged(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range got {
			seen = append(seen, f.SignIn.ID)
		}
		if len(got) < q.Limit {
			break
		}
		last := got[len(got)-1]
		q.Before, q.BeforeID = last.FlaggedAt, last.FlagID
	}
	if want := "P-4,P-3,P-2,P-1,P-0,P-6,P-5"; strings.Join(seen, ",") != want {
		t.Fatalf("pages listed %v, want %s", seen, want)
	}
}

// A finding computed over a complete window is what a lookup returns, even
// when a redelivery hours later recomputes it over an evicted window and
// is written after it; a later complete computation still replaces it.
func TestCompleteFindingOutranksALaterPartialOne(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	si := signIn("S-P", "User-P", "", t0, 50126)
	finding := func(failures int, partial bool) schemas.Finding {
		return schemas.Finding{ID: schemas.FindingID("invalid_credentials", si.ID), SignInID: si.ID, CorrelationID: si.CorrelationID,
			UserID: si.UserID, OccurredAt: si.CreatedDateTime, Scenario: "invalid_credentials", Severity: "low",
			ErrorCode: 50126, Failures48h: failures, Failures48hPartial: partial, UserKey: si.UserKey()}
	}
	read := func() schemas.Finding {
		t.Helper()
		got, err := s.SignIns(ctx, sinks.SignInQuery{CorrelationID: si.CorrelationID})
		if err != nil || len(got) != 1 {
			t.Fatalf("sign-in: %v %v", got, err)
		}
		fs, err := s.Findings(ctx, got)
		if err != nil || len(fs) != 1 {
			t.Fatalf("findings: %+v %v, want one", fs, err)
		}
		return fs[0]
	}
	write := func(f schemas.Finding) {
		t.Helper()
		time.Sleep(2 * time.Millisecond) // versions are write times
		if err := s.Write(ctx, &sinks.Batch{SignIns: []sinks.SignInRecord{record(si, 0)}, Findings: []schemas.Finding{f}}); err != nil {
			t.Fatal(err)
		}
	}
	write(finding(7, false))
	write(finding(2, true)) // the late redelivery
	if got := read(); got.Failures48h != 7 || got.Failures48hPartial {
		t.Fatalf("after a partial rewrite: %d partial=%v, want the complete 7", got.Failures48h, got.Failures48hPartial)
	}
	write(finding(9, false)) // a complete recomputation (late failures arrived meanwhile)
	if got := read(); got.Failures48h != 9 {
		t.Fatalf("after a complete rewrite: %d, want 9", got.Failures48h)
	}
}

// The rebuild reads what the window saw before the committed offset even
// after a merge has replaced a failure's row with a later copy (a
// redelivery stored at a later offset), and counts its span back from the
// recorded watermark (a success's time), not from the latest failure.
func TestRebuildSurvivesMergesAndStartsFromTheRecordedWatermark(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	early := record(signIn("w-early", "user-w", "", t0, 50126), 1)
	kept := record(signIn("w-kept", "user-w", "", t0.Add(30*time.Hour), 50126), 2)
	success := record(signIn("w-success", "user-w", "", t0.Add(60*time.Hour), 0), 3)
	marks := []sinks.WatermarkRecord{{Stage: sinks.WindowUsers, Shard: 0, Offset: 3, At: t0.Add(60 * time.Hour)}}
	if err := s.Write(ctx, &sinks.Batch{SignIns: []sinks.SignInRecord{early, kept, success}, Watermarks: marks}); err != nil {
		t.Fatal(err)
	}
	again := kept
	again.Offset = 9 // the redelivery, after the committed offset 4
	time.Sleep(2 * time.Millisecond)
	if err := s.Write(ctx, &sinks.Batch{SignIns: []sinks.SignInRecord{again},
		Watermarks: []sinks.WatermarkRecord{{Stage: sinks.WindowUsers, Shard: 0, Offset: 9, At: t0.Add(61 * time.Hour)}}}); err != nil {
		t.Fatal(err)
	}
	wm, err := s.WindowWatermark(ctx, sinks.WindowUsers, 0, 4)
	if err != nil || !wm.Equal(t0.Add(60*time.Hour)) {
		t.Fatalf("watermark before offset 4: %v %v, want +60h (the success)", wm, err)
	}
	// Span 48h back from +60h: w-kept (+30h) is in, w-early (0) is out;
	// from the latest failure (+30h) it would have been in.
	got, err := s.RecentFailures(ctx, 0, 4, 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Identity != schemas.CategoryInteractive+"/w-kept" {
		t.Fatalf("rebuilt %+v, want w-kept once", got)
	}
	if wm, err := s.WindowWatermark(ctx, sinks.WindowIPs, 0, 4); err != nil || !wm.IsZero() {
		t.Fatalf("IP watermark: %v %v, want none", wm, err)
	}
}

// Retention deletes what happened before the cutoff, in every table with
// an event time, and names the tables it trimmed; a second pass trims
// nothing.
func TestDropExpiredDeletesOnlyRowsBeforeTheCutoff(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	old := signIn("ret-old", "user-r", "", time.Date(2025, 1, 15, 9, 0, 0, 0, time.UTC), 50126)
	kept := signIn("ret-kept", "user-r", "", time.Date(2025, 3, 2, 9, 0, 0, 0, time.UTC), 50126)
	finding := func(si schemas.SignIn) schemas.Finding {
		return schemas.Finding{ID: schemas.FindingID("invalid_credentials", si.ID), SignInID: si.ID, CorrelationID: si.CorrelationID,
			UserID: si.UserID, OccurredAt: si.CreatedDateTime, Scenario: "invalid_credentials", Severity: "low", UserKey: si.UserKey()}
	}
	if err := s.Write(ctx, &sinks.Batch{SignIns: []sinks.SignInRecord{record(old, 1), record(kept, 2)},
		Findings: []schemas.Finding{finding(old), finding(kept)}}); err != nil {
		t.Fatal(err)
	}
	dropped, err := s.DropExpired(ctx, time.Date(2025, 2, 10, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(dropped)
	if want := "[findings signins window_failures]"; fmt.Sprint(dropped) != want {
		t.Fatalf("dropped %v, want %s", dropped, want)
	}
	got, err := s.SignIns(ctx, sinks.SignInQuery{User: "user-r", From: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil || fmt.Sprint(ids(got)) != "[ret-kept]" {
		t.Fatalf("after retention: %v %v, want ret-kept only", ids(got), err)
	}
	fs, err := s.Findings(ctx, []schemas.SignIn{old, kept})
	if err != nil || len(fs) != 1 || fs[0].SignInID != "ret-kept" {
		t.Fatalf("findings after retention: %+v %v, want ret-kept's only", fs, err)
	}
	if again, err := s.DropExpired(ctx, time.Date(2025, 2, 10, 0, 0, 0, 0, time.UTC)); err != nil || len(again) != 0 {
		t.Fatalf("second pass dropped %v %v, want nothing", again, err)
	}
	if applied, err := s.Migrate(ctx); err != nil || len(applied) != 0 {
		t.Fatalf("migrations after retention: %v %v, want none", applied, err)
	}
}

// The spray stage's rebuild, likewise, keeps a candidate stored before the
// committed offset after a later copy replaced its ip_failures row.
func TestIPRebuildSurvivesMerges(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	row := sinks.IPFailureRecord{IP: "203.0.113.9", UserKey: "user-i", Identity: "interactive/ip-1", At: t0, Shard: 0, Offset: 1}
	again := row
	again.Offset = 9
	mark := func(offset int64) []sinks.WatermarkRecord {
		return []sinks.WatermarkRecord{{Stage: sinks.WindowIPs, Shard: 0, Offset: offset, At: t0}}
	}
	if err := s.Write(ctx, &sinks.Batch{IPFailures: []sinks.IPFailureRecord{row}, Watermarks: mark(1)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, &sinks.Batch{IPFailures: []sinks.IPFailureRecord{again}, Watermarks: mark(9)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.RecentIPFailures(ctx, 0, 4, time.Hour)
	if err != nil || len(got) != 1 || got[0].Offset != 1 || got[0].IP != row.IP {
		t.Fatalf("rebuilt %+v %v, want the copy at offset 1", got, err)
	}
}
