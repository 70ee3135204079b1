package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

// apiFixture stores three users' sign-ins and findings, a re-emitted
// sign-in whose latest version changed, and a flag event.
func apiFixture(t *testing.T, s interface {
	Write(context.Context, *sinks.Batch) error
}) []schemas.SignIn {
	t.Helper()
	a1 := signIn("A-1", "user-a", "ana@contoso.example", t0.Add(1*time.Minute), 50126)
	a2 := signIn("A-2", "user-a", "ana@contoso.example", t0.Add(2*time.Minute), 0)
	a3 := signIn("A-3", "user-a", "ana@contoso.example", t0.Add(3*time.Minute), 53003)
	a3.AppID, a3.AppDisplayName, a3.IPAddress = "app-2", "Teams", "198.51.100.7"
	b1 := signIn("B-1", "user-b", "bo@contoso.example", t0.Add(2*time.Minute), 50126)
	b1.IPAddress = "198.51.100.7"
	// R-1 was an interrupt (50074), re-emitted a second later as a success.
	r1old := signIn("R-1", "user-b", "bo@contoso.example", t0.Add(4*time.Minute), 50074)
	r1new := r1old
	r1new.CreatedDateTime, r1new.Status.ErrorCode = r1old.CreatedDateTime.Add(time.Second), 0
	finding := func(si schemas.SignIn, scenario, severity string) schemas.Finding {
		return schemas.Finding{ID: schemas.FindingID(scenario, si.ID), SignInID: si.ID, CorrelationID: si.CorrelationID,
			UserID: si.UserID, AppID: si.AppID, AppDisplayName: si.AppDisplayName, OccurredAt: si.CreatedDateTime,
			Scenario: scenario, Severity: severity, Title: scenario, Recommendations: []string{"do"}, ErrorCode: si.Status.ErrorCode,
			UserKey: si.UserKey()}
	}
	flag := schemas.Flag{ID: "flag-1", SignInID: "b-1", UserID: "user-b", FlaggedAt: t0.Add(time.Hour), FlaggedBy: "bo"}
	batch := &sinks.Batch{
		SignIns: []sinks.SignInRecord{record(a1, 1), record(a2, 2), record(a3, 3), record(b1, 4), record(r1old, 5), record(r1new, 6)},
		Findings: []schemas.Finding{finding(a1, "invalid_credentials", "low"), finding(a3, "blocked_by_conditional_access", "medium"),
			finding(b1, "invalid_credentials", "low")},
		Flags: []schemas.Flag{flag},
	}
	if err := s.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	return []schemas.SignIn{a1, a2, a3, b1, r1new}
}

func TestListSignInsFiltersTheLatestVersionsAndPages(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	apiFixture(t, s)
	from, to := t0, t0.Add(time.Hour)
	code0, code50126 := 0, 50126
	cases := []struct {
		name string
		q    sinks.SignInListQuery
		want []string // newest first
	}{
		{"all", sinks.SignInListQuery{}, []string{"R-1", "A-3", "A-2", "B-1", "A-1"}},
		{"user by UPN", sinks.SignInListQuery{User: "Ana@Contoso.example"}, []string{"A-3", "A-2", "A-1"}},
		{"app by name", sinks.SignInListQuery{App: "teams"}, []string{"A-3"}},
		{"ip", sinks.SignInListQuery{IP: "198.51.100.7"}, []string{"A-3", "B-1"}},
		{"failed", sinks.SignInListQuery{ErrorCode: &code50126}, []string{"B-1", "A-1"}},
		// R-1's earlier version was 50074: only its latest counts.
		{"succeeded", sinks.SignInListQuery{ErrorCode: &code0}, []string{"R-1", "A-2"}},
		{"outside the range", sinks.SignInListQuery{From: t0.Add(-time.Hour), To: t0}, nil},
	}
	for _, c := range cases {
		q := c.q
		if q.From.IsZero() {
			q.From, q.To = from, to
		}
		got, err := s.ListSignIns(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !equal(order(got), c.want) {
			t.Errorf("%s: got %v, want %v", c.name, order(got), c.want)
		}
	}
	// Pages of two, each starting after the last of the previous one.
	var all []string
	q := sinks.SignInListQuery{From: from, To: to, Limit: 2}
	for range 5 {
		page, err := s.ListSignIns(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		all = append(all, order(page)...)
		last := page[len(page)-1]
		q.AfterMs, q.AfterID = last.CreatedDateTime.UnixMilli(), last.ID
	}
	if want := []string{"R-1", "A-3", "A-2", "B-1", "A-1"}; !equal(all, want) {
		t.Errorf("paged: %v, want %v", all, want)
	}
	// B-1 is named by a flag event.
	got, err := s.ListSignIns(ctx, sinks.SignInListQuery{From: from, To: to, User: "user-b"})
	if err != nil {
		t.Fatal(err)
	}
	for _, si := range got {
		if si.FlaggedForReview != (si.ID == "B-1") {
			t.Errorf("%s: flaggedForReview %v", si.ID, si.FlaggedForReview)
		}
	}
	if _, err := s.ListSignIns(ctx, sinks.SignInListQuery{}); err == nil {
		t.Error("a list without a range was accepted")
	}
}

func TestListFindingsFilters(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	apiFixture(t, s)
	yes, no := true, false
	cases := []struct {
		name string
		q    sinks.FindingListQuery
		want []string // signInIds, latest first
	}{
		{"all", sinks.FindingListQuery{}, []string{"A-3", "B-1", "A-1"}},
		{"user", sinks.FindingListQuery{User: "user-a"}, []string{"A-3", "A-1"}},
		{"app", sinks.FindingListQuery{App: "Azure Portal"}, []string{"B-1", "A-1"}},
		{"scenario", sinks.FindingListQuery{Scenario: "blocked_by_conditional_access"}, []string{"A-3"}},
		{"severity", sinks.FindingListQuery{Severity: "low"}, []string{"B-1", "A-1"}},
		{"flagged", sinks.FindingListQuery{Flagged: &yes}, []string{"B-1"}},
		{"not flagged", sinks.FindingListQuery{Flagged: &no}, []string{"A-3", "A-1"}},
	}
	for _, c := range cases {
		q := c.q
		q.From, q.To = t0, t0.Add(time.Hour)
		got, err := s.ListFindings(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var ids []string
		for _, f := range got {
			ids = append(ids, f.SignInID)
			if f.Flagged != (f.SignInID == "B-1") {
				t.Errorf("%s: finding of %s flagged=%v", c.name, f.SignInID, f.Flagged)
			}
		}
		if !equal(ids, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, ids, c.want)
		}
	}
	// Paging after the first.
	first, err := s.ListFindings(ctx, sinks.FindingListQuery{From: t0, To: t0.Add(time.Hour), Limit: 1})
	if err != nil || len(first) != 1 {
		t.Fatalf("first page: %v %v", first, err)
	}
	rest, err := s.ListFindings(ctx, sinks.FindingListQuery{From: t0, To: t0.Add(time.Hour), AfterAt: first[0].OccurredAt, AfterID: first[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != 2 || rest[0].SignInID != "B-1" {
		t.Errorf("second page: %+v", rest)
	}
}

func TestFeedbackAndAcknowledgementsRoundTrip(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	at := time.Date(2025, 3, 5, 10, 0, 0, 0, time.UTC)
	for i, fb := range []sinks.Feedback{
		{ID: "fb-1", FindingID: "f-1", SignInID: "A-1", Scenario: "invalid_credentials", Helpful: true, Comment: "exact", GivenBy: "reader:0a1b2c3d", GivenAt: at},
		{ID: "fb-2", FindingID: "f-2", SignInID: "A-3", Scenario: "blocked_by_conditional_access", Helpful: false, Comment: "it's 'quoted'\n", GivenBy: "admin:ffee0011", GivenAt: at.Add(time.Second)},
		{ID: "fb-3", FindingID: "f-1", SignInID: "A-1", Scenario: "invalid_credentials", Helpful: false, GivenBy: "reader:0a1b2c3d", GivenAt: at.Add(2 * time.Second)},
	} {
		if err := s.AddFeedback(ctx, fb); err != nil {
			t.Fatalf("feedback %d: %v", i, err)
		}
	}
	all, err := s.ListFeedback(ctx, sinks.FeedbackQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || all[0].ID != "fb-3" || all[1].ID != "fb-2" || all[1].Helpful || all[1].Comment != "it's 'quoted'\n" ||
		!all[1].GivenAt.Equal(at.Add(time.Second)) || !all[2].Helpful || all[2].GivenBy != "reader:0a1b2c3d" {
		t.Fatalf("feedback = %+v", all)
	}
	page, err := s.ListFeedback(ctx, sinks.FeedbackQuery{FindingID: "f-1", Before: all[0].GivenAt, BeforeID: all[0].ID, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 1 || page[0].ID != "fb-1" {
		t.Fatalf("f-1 after fb-3 = %+v", page)
	}

	for _, a := range []sinks.Acknowledgement{
		{SignInID: "B-1", At: at, By: "admin:1", Comment: "first"},
		{SignInID: "B-1", At: at.Add(time.Minute), By: "admin:2", Comment: "second"},
		{SignInID: "A-1", At: at, By: "admin:1"},
	} {
		if err := s.Acknowledge(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	acks, err := s.Acknowledgements(ctx, []string{"B-1", "X-9"})
	if err != nil {
		t.Fatal(err)
	}
	if len(acks) != 1 || acks["B-1"].Comment != "second" || acks["B-1"].By != "admin:2" || !acks["B-1"].At.Equal(at.Add(time.Minute)) {
		t.Fatalf("acknowledgements = %+v", acks)
	}
}

func order(signIns []schemas.SignIn) []string {
	var out []string
	for _, s := range signIns {
		out = append(out, s.ID)
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
