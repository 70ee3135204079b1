package sinkstest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

func testMigrateTwice(t *testing.T, b Backend) {
	s := b.Open(t) // migrated once
	applied, err := s.Migrate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 0 {
		t.Fatalf("second migration applied %v, want nothing", applied)
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("ping: %v", err)
	}
}

func testWriteIsIdempotent(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	si := SignIn("S-1", "User-A", "Ana@Contoso.example", T0.Add(123*time.Millisecond), 50126)
	f := schemas.Finding{ID: schemas.FindingID("invalid_credentials", si.ID), SignInID: si.ID, CorrelationID: si.CorrelationID,
		UserID: si.UserID, OccurredAt: si.CreatedDateTime, Scenario: "invalid_credentials", Severity: "low",
		Recommendations: []string{"retry"}, ErrorCode: 50126, Failures48h: 1, UserKey: si.UserKey()}
	batch := &sinks.Batch{SignIns: []sinks.SignInRecord{Record(si, 0)}, Findings: []schemas.Finding{f}}
	for range 3 { // a replay writes the same rows again
		write(t, s, batch)
	}
	b.settled(t, s, func(t *testing.T) {
		for name, q := range map[string]sinks.SignInQuery{
			"correlationId": {CorrelationID: "CORR-S-1"},
			"requestId":     {RequestID: "s-1"},
			"object id":     {User: "user-a", From: T0.Add(-time.Hour), To: T0.Add(time.Hour)},
			"upn":           {User: "ana@contoso.example", From: T0.Add(-time.Hour), To: T0.Add(time.Hour)},
			"upn and app":   {User: "ana@contoso.example", App: "azure portal", From: T0.Add(-time.Hour), To: T0.Add(time.Hour)},
			"app id":        {User: "user-a", App: "APP-1", From: T0.Add(-time.Hour), To: T0.Add(time.Hour)},
		} {
			got, err := s.SignIns(ctx, q)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if len(got) != 1 || got[0].ID != "S-1" || !got[0].CreatedDateTime.Equal(si.CreatedDateTime) ||
				got[0].UserPrincipalName != si.UserPrincipalName || got[0].Status.ErrorCode != 50126 {
				t.Fatalf("%s: got %+v, want S-1 once", name, got)
			}
			findings, err := s.Findings(ctx, got)
			if err != nil {
				t.Fatal(err)
			}
			if len(findings) != 1 || findings[0].ID != f.ID || findings[0].Failures48h != 1 ||
				len(findings[0].Recommendations) != 1 || findings[0].Recommendations[0] != "retry" {
				t.Fatalf("%s: findings %+v, want the one finding once", name, findings)
			}
		}
		for name, q := range map[string]sinks.SignInQuery{
			"other app":     {User: "user-a", App: "Teams", From: T0.Add(-time.Hour), To: T0.Add(time.Hour)},
			"other time":    {User: "user-a", From: T0.Add(time.Hour), To: T0.Add(2 * time.Hour)},
			"other user":    {User: "user-b", From: T0.Add(-time.Hour), To: T0.Add(time.Hour)},
			"unknown corr":  {CorrelationID: "nope"},
			"injection try": {CorrelationID: "x' OR '1'='1"},
		} {
			got, err := s.SignIns(ctx, q)
			if err != nil || len(got) != 0 {
				t.Fatalf("%s: got %v %v, want nothing", name, got, err)
			}
		}
		if n, err := s.FailureCount(ctx, "user-a", T0, T0.Add(time.Hour)); err != nil || n != 1 {
			t.Fatalf("failure count after replays: %d %v, want 1", n, err)
		}
	})
}

func testLaterVersionReplaces(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	si := SignIn("S-2", "u", "u@contoso.example", T0, 50074)
	write(t, s, &sinks.Batch{SignIns: []sinks.SignInRecord{Record(si, 0)}})
	// Entra re-emits the completed sign-in under the same id, 18s later
	// (as in aad_signin_random.json).
	si.Status = schemas.Status{ErrorCode: 0, FailureReason: "completed later"}
	si.CreatedDateTime = si.CreatedDateTime.Add(18 * time.Second)
	laterWrite()
	write(t, s, &sinks.Batch{SignIns: []sinks.SignInRecord{Record(si, 1)}})
	b.settled(t, s, func(t *testing.T) {
		got, err := s.SignIns(ctx, sinks.SignInQuery{RequestID: "S-2"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Status.FailureReason != "completed later" || !got[0].CreatedDateTime.Equal(si.CreatedDateTime) {
			t.Fatalf("got %+v, want the later version only", got)
		}
		got, err = s.SignIns(ctx, sinks.SignInQuery{User: "u", From: T0.Add(-time.Hour), To: T0.Add(time.Hour)})
		if err != nil || len(got) != 1 || got[0].Status.ErrorCode != 0 {
			t.Fatalf("user search: %+v %v, want the later version only", got, err)
		}
		list, err := s.ListSignIns(ctx, sinks.SignInListQuery{From: T0.Add(-time.Hour), To: T0.Add(time.Hour)})
		if err != nil || len(list) != 1 || list[0].Status.ErrorCode != 0 || !list[0].CreatedDateTime.Equal(si.CreatedDateTime) {
			t.Fatalf("list: %+v %v, want the later version only", list, err)
		}
	})
}

func testFlagsWhicheverFirst(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	early := schemas.Flag{ID: "f1", SignInID: "S-3", UserPrincipalName: "bo@contoso.example", FlaggedAt: T0.Add(-time.Minute), FlaggedBy: "user"}
	write(t, s, &sinks.Batch{Flags: []schemas.Flag{early}})
	a := SignIn("S-3", "user-b", "bo@contoso.example", T0, 53003)
	bb := SignIn("S-4", "user-b", "bo@contoso.example", T0.Add(time.Minute), 53003)
	c := SignIn("S-5", "user-b", "bo@contoso.example", T0.Add(2*time.Minute), 53003)
	write(t, s, &sinks.Batch{SignIns: []sinks.SignInRecord{Record(a, 0), Record(bb, 1), Record(c, 2)},
		Findings: []schemas.Finding{Finding(a, "blocked_by_conditional_access", "medium"), Finding(c, "blocked_by_conditional_access", "medium")}})
	late := schemas.Flag{ID: "f2", CorrelationID: "CORR-S-4", UserID: "user-b", FlaggedAt: T0.Add(time.Hour), FlaggedBy: "helpdesk"}
	write(t, s, &sinks.Batch{Flags: []schemas.Flag{late}})
	b.settled(t, s, func(t *testing.T) {
		got, err := s.SignIns(ctx, sinks.SignInQuery{User: "user-b", From: T0.Add(-time.Hour), To: T0.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if order(got) != "S-5,S-4,S-3" || flaggedIDs(got) != "S-4,S-3" {
			t.Fatalf("sign-ins %s flagged %s, want S-5,S-4,S-3 with S-4 (flag later) and S-3 (flag first) flagged", order(got), flaggedIDs(got))
		}
		for _, q := range []sinks.SignInQuery{{RequestID: "S-3"}, {CorrelationID: "corr-S-4"}} {
			one, err := s.SignIns(ctx, q)
			if err != nil || len(one) != 1 || !one[0].FlaggedForReview {
				t.Fatalf("%+v: %+v %v, want one flagged sign-in", q, one, err)
			}
		}
		findings, err := s.Findings(ctx, got)
		if err != nil {
			t.Fatal(err)
		}
		flagged := map[string]bool{}
		for _, f := range findings {
			flagged[f.SignInID] = f.Flagged
		}
		if len(findings) != 2 || !flagged["S-3"] || flagged["S-5"] {
			t.Fatalf("findings: %+v, want S-3's flagged and S-5's not", findings)
		}
		list, err := s.ListSignIns(ctx, sinks.SignInListQuery{From: T0.Add(-time.Hour), To: T0.Add(time.Hour)})
		if err != nil || flaggedIDs(list) != "S-4,S-3" {
			t.Fatalf("list flagged %s %v, want S-4,S-3", flaggedIDs(list), err)
		}
		yes := true
		lf, err := s.ListFindings(ctx, sinks.FindingListQuery{Flagged: &yes, From: T0.Add(-time.Hour), To: T0.Add(time.Hour)})
		if err != nil || findingSignIns(lf) != "S-3" {
			t.Fatalf("flagged findings %s %v, want S-3", findingSignIns(lf), err)
		}
		fl, err := s.Flagged(ctx, sinks.FlaggedQuery{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range fl {
			names = append(names, fmt.Sprintf("%s@%s/%s", f.SignIn.ID, f.FlaggedBy, f.FlagID))
		}
		if fmt.Sprint(names) != "[S-4@helpdesk/f2 S-3@user/f1]" {
			t.Fatalf("flagged = %v, want S-4 (f2) then S-3 (f1)", names)
		}
	})
}

func testFailureCountExact(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	var rows []sinks.SignInRecord
	add := func(id string, at time.Time, code int) {
		rows = append(rows, Record(SignIn(id, "user-c", "cy@contoso.example", at, code), int64(len(rows))))
	}
	add("f1", T0.Add(500*time.Millisecond), 50126)
	add("f2", T0.Add(time.Second+1*time.Millisecond), 50126)
	add("ok", T0.Add(2*time.Second), 0)
	add("f3", T0.Add(48*time.Hour), 50053)
	rows = append(rows, rows[0]) // a duplicate delivery counts once
	write(t, s, &sinks.Batch{SignIns: rows})
	cases := []struct {
		from, to time.Time
		want     int
	}{
		{T0, T0.Add(500 * time.Millisecond), 1},
		{T0.Add(500 * time.Millisecond), T0.Add(time.Second + time.Millisecond), 1}, // (from, to]: f1 excluded
		{T0.Add(499 * time.Millisecond), T0.Add(48 * time.Hour), 3},
		{T0.Add(time.Second), T0.Add(time.Second), 0},
		{T0.Add(time.Second + time.Millisecond), T0.Add(48*time.Hour - time.Millisecond), 0},
	}
	b.settled(t, s, func(t *testing.T) {
		for _, c := range cases {
			for _, user := range []string{"USER-C", "cy@contoso.example"} {
				got, err := s.FailureCount(ctx, user, c.from, c.to)
				if err != nil {
					t.Fatal(err)
				}
				if got != c.want {
					t.Errorf("%s (%s, %s] = %d, want %d", user, c.from.Sub(T0), c.to.Sub(T0), got, c.want)
				}
			}
		}
		if n, err := s.FailureCount(ctx, "nobody", T0, T0.Add(72*time.Hour)); err != nil || n != 0 {
			t.Errorf("unknown user: %d %v, want 0", n, err)
		}
	})
}

// A user search reads the newest sign-ins first until a page is full:
// with a limit, the newest sign-ins come back in order, and an app filter
// that only the oldest ones match still finds them.
func testUserSearchPages(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	var recs []sinks.SignInRecord
	for i := range 30 { // one every 20 minutes over 10 hours
		si := SignIn(fmt.Sprintf("H-%02d", i), "user-h", "h@contoso.example", T0.Add(time.Duration(i)*20*time.Minute), 0)
		if i < 3 {
			si.AppID, si.AppDisplayName = "app-old", "Old App"
		}
		recs = append(recs, Record(si, int64(i)))
	}
	// A later version of H-10, re-emitted an hour later, moves it up.
	moved := recs[10].SignIn
	moved.CreatedDateTime = T0.Add(10*time.Hour + 5*time.Minute)
	write(t, s, &sinks.Batch{SignIns: recs})
	laterWrite()
	write(t, s, &sinks.Batch{SignIns: []sinks.SignInRecord{Record(moved, 30)}})
	to := T0.Add(11 * time.Hour)
	b.settled(t, s, func(t *testing.T) {
		got, err := s.SignIns(ctx, sinks.SignInQuery{User: "h@contoso.example", From: to.Add(-48 * time.Hour), To: to, Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		if o := order(got); o != "H-10,H-29,H-28,H-27,H-26" {
			t.Fatalf("newest 5 = %s, want H-10 (re-emitted latest), H-29…H-26", o)
		}
		if !got[0].CreatedDateTime.Equal(moved.CreatedDateTime) {
			t.Fatalf("H-10 at %v, want its later version at %v", got[0].CreatedDateTime, moved.CreatedDateTime)
		}
		old, err := s.SignIns(ctx, sinks.SignInQuery{User: "h@contoso.example", App: "old app", From: to.Add(-48 * time.Hour), To: to, Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		if o := order(old); o != "H-02,H-01,H-00" {
			t.Fatalf("app filter = %s, want H-02,H-01,H-00", o)
		}
		all, err := s.SignIns(ctx, sinks.SignInQuery{User: "h@contoso.example", From: to.Add(-48 * time.Hour), To: to, Limit: 100})
		if err != nil || len(all) != 30 {
			t.Fatalf("all: %d sign-ins, err %v; want 30 (each once)", len(all), err)
		}
	})
}

// A finding computed over a complete window is what a lookup returns, even
// when a redelivery hours later recomputes it over an evicted window and
// is written after it; a later complete computation still replaces it.
func testCompleteFindingOutranksPartial(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	si := SignIn("S-P", "User-P", "", T0, 50126)
	finding := func(failures int, partial bool) schemas.Finding {
		return schemas.Finding{ID: schemas.FindingID("invalid_credentials", si.ID), SignInID: si.ID, CorrelationID: si.CorrelationID,
			UserID: si.UserID, OccurredAt: si.CreatedDateTime, Scenario: "invalid_credentials", Severity: "low",
			ErrorCode: 50126, Failures48h: failures, Failures48hPartial: partial, UserKey: si.UserKey()}
	}
	read := func(t *testing.T) schemas.Finding {
		t.Helper()
		got, err := s.SignIns(ctx, sinks.SignInQuery{CorrelationID: si.CorrelationID})
		if err != nil || len(got) != 1 {
			t.Fatalf("sign-in: %v %v", got, err)
		}
		fs, err := s.Findings(ctx, got)
		if err != nil || len(fs) != 1 {
			t.Fatalf("findings: %+v %v, want one", fs, err)
		}
		listed, err := s.ListFindings(ctx, sinks.FindingListQuery{From: T0, To: T0.Add(time.Hour)})
		if err != nil || len(listed) != 1 || listed[0].Failures48h != fs[0].Failures48h {
			t.Fatalf("listed: %+v %v, want the finding the lookup returns (%d)", listed, err, fs[0].Failures48h)
		}
		return fs[0]
	}
	store := func(f schemas.Finding) {
		t.Helper()
		laterWrite()
		write(t, s, &sinks.Batch{SignIns: []sinks.SignInRecord{Record(si, 0)}, Findings: []schemas.Finding{f}})
	}
	store(finding(7, false))
	store(finding(2, true)) // the late redelivery
	b.settled(t, s, func(t *testing.T) {
		if got := read(t); got.Failures48h != 7 || got.Failures48hPartial {
			t.Fatalf("after a partial rewrite: %d partial=%v, want the complete 7", got.Failures48h, got.Failures48hPartial)
		}
	})
	store(finding(9, false)) // a complete recomputation (late failures arrived meanwhile)
	b.settled(t, s, func(t *testing.T) {
		if got := read(t); got.Failures48h != 9 || got.Failures48hPartial {
			t.Fatalf("after a complete rewrite: %d, want 9", got.Failures48h)
		}
	})
}

// Batches written at the same time (the partition workers flush
// together, and a backend may write them as one) each get an error of
// their own: one with a row the store refuses fails, with ErrRejected
// (and, in a transactional store, leaves none of its rows), and every
// other is stored whole.
func testConcurrentWritesKeepTheirOwnErrors(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	const writers = 8
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var batch sinks.Batch
			for i := range 50 {
				si := SignIn(fmt.Sprintf("G%d-%d", w, i), fmt.Sprintf("user-%d", w), "", T0.Add(time.Duration(i)*time.Second), 50126)
				batch.SignIns = append(batch.SignIns, Record(si, int64(i)))
			}
			if w == 3 { // an incident whose details are not JSON
				batch.Incidents = []sinks.IncidentRecord{{ID: "bad", Detection: "mfa_fatigue", Key: "user-3", Start: T0, First: T0, Last: T0,
					Count: 1, Details: json.RawMessage("{not json")}}
			}
			errs[w] = s.Write(ctx, &batch)
		}()
	}
	wg.Wait()
	for w, err := range errs {
		got, rerr := s.SignIns(ctx, sinks.SignInQuery{User: fmt.Sprintf("user-%d", w), From: T0, To: T0.Add(time.Hour), Limit: 100})
		if rerr != nil {
			t.Fatal(rerr)
		}
		if w == 3 {
			if !errors.Is(err, sinks.ErrRejected) || (b.Transactional && len(got) != 0) {
				t.Errorf("bad batch: err %v, %d sign-ins stored; want ErrRejected (and none, transactional %v)", err, len(got), b.Transactional)
			}
			continue
		}
		if err != nil || len(got) != 50 {
			t.Errorf("batch %d: err %v, %d sign-ins stored; want all 50", w, err, len(got))
		}
	}
}
