package sinkstest

import (
	"context"
	"testing"
	"time"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

// apiFixture is three users' sign-ins and findings, a re-emitted sign-in
// whose latest version changed, and a flag event, as one batch.
func apiFixture() *sinks.Batch {
	a1 := SignIn("A-1", "user-a", "ana@contoso.example", T0.Add(1*time.Minute), 50126)
	a2 := SignIn("A-2", "user-a", "ana@contoso.example", T0.Add(2*time.Minute), 0)
	a3 := SignIn("A-3", "user-a", "ana@contoso.example", T0.Add(3*time.Minute), 53003)
	a3.AppID, a3.AppDisplayName, a3.IPAddress = "app-2", "Teams", "198.51.100.7"
	b1 := SignIn("B-1", "user-b", "bo@contoso.example", T0.Add(2*time.Minute), 50126)
	b1.IPAddress = "198.51.100.7"
	// R-1 was an interrupt (50074), re-emitted a second later as a success.
	r1old := SignIn("R-1", "user-b", "bo@contoso.example", T0.Add(4*time.Minute), 50074)
	r1new := r1old
	r1new.CreatedDateTime, r1new.Status.ErrorCode = r1old.CreatedDateTime.Add(time.Second), 0
	flag := schemas.Flag{ID: "flag-1", SignInID: "b-1", UserID: "user-b", FlaggedAt: T0.Add(time.Hour), FlaggedBy: "bo"}
	return &sinks.Batch{
		SignIns: []sinks.SignInRecord{Record(a1, 1), Record(a2, 2), Record(a3, 3), Record(b1, 4), Record(r1old, 5), Record(r1new, 6)},
		Findings: []schemas.Finding{Finding(a1, "invalid_credentials", "low"), Finding(a3, "blocked_by_conditional_access", "medium"),
			Finding(b1, "invalid_credentials", "low")},
		Flags: []schemas.Flag{flag},
	}
}

func testListSignIns(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	// R-1's two versions arrive in one batch and in two: the later wins.
	fixture := apiFixture()
	write(t, s, fixture)
	r1new := fixture.SignIns[5]
	laterWrite()
	write(t, s, &sinks.Batch{SignIns: []sinks.SignInRecord{r1new}})
	from, to := T0, T0.Add(time.Hour)
	code0, code50126, code50074 := 0, 50126, 50074
	cases := []struct {
		name string
		q    sinks.SignInListQuery
		want string // newest first
	}{
		{"all", sinks.SignInListQuery{}, "R-1,A-3,A-2,B-1,A-1"},
		{"user by UPN", sinks.SignInListQuery{User: "Ana@Contoso.example"}, "A-3,A-2,A-1"},
		{"user by object id", sinks.SignInListQuery{User: "USER-B"}, "R-1,B-1"},
		{"app by name", sinks.SignInListQuery{App: "teams"}, "A-3"},
		{"app by id", sinks.SignInListQuery{App: "app-2"}, "A-3"},
		{"ip", sinks.SignInListQuery{IP: "198.51.100.7"}, "A-3,B-1"},
		{"failed", sinks.SignInListQuery{ErrorCode: &code50126}, "B-1,A-1"},
		// R-1's earlier version was 50074: only its latest counts.
		{"succeeded", sinks.SignInListQuery{ErrorCode: &code0}, "R-1,A-2"},
		{"an earlier version's code", sinks.SignInListQuery{ErrorCode: &code50074}, ""},
		{"user and app", sinks.SignInListQuery{User: "user-a", App: "Azure Portal"}, "A-2,A-1"},
		{"[From, To] holds both ends", sinks.SignInListQuery{From: T0.Add(2 * time.Minute), To: T0.Add(3 * time.Minute)}, "A-3,A-2,B-1"},
		{"outside the range", sinks.SignInListQuery{From: T0.Add(-time.Hour), To: T0}, ""},
	}
	b.settled(t, s, func(t *testing.T) {
		for _, c := range cases {
			q := c.q
			if q.From.IsZero() {
				q.From, q.To = from, to
			}
			got, err := s.ListSignIns(ctx, q)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if order(got) != c.want {
				t.Errorf("%s: got %v, want %v", c.name, order(got), c.want)
			}
		}
		// Pages of two, each starting after the last of the previous one;
		// A-2 and B-1 share their millisecond and are ordered by id.
		var all []schemas.SignIn
		q := sinks.SignInListQuery{From: from, To: to, Limit: 2}
		for range 5 {
			page, err := s.ListSignIns(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > 2 {
				t.Fatalf("page of %d, limit 2", len(page))
			}
			if len(page) == 0 {
				break
			}
			all = append(all, page...)
			last := page[len(page)-1]
			q.AfterMs, q.AfterID = last.CreatedDateTime.UnixMilli(), last.ID
		}
		if got := order(all); got != "R-1,A-3,A-2,B-1,A-1" {
			t.Errorf("paged: %v", got)
		}
		// B-1 is named by a flag event.
		if got := flaggedIDs(all); got != "B-1" {
			t.Errorf("flaggedForReview: %s, want B-1", got)
		}
		if _, err := s.ListSignIns(ctx, sinks.SignInListQuery{}); err == nil {
			t.Error("a list without a range was accepted")
		}
	})
}

func testListFindings(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	write(t, s, apiFixture(), apiFixture()) // and its replay
	yes, no := true, false
	cases := []struct {
		name string
		q    sinks.FindingListQuery
		want string // signInIds, latest first
	}{
		{"all", sinks.FindingListQuery{}, "A-3,B-1,A-1"},
		{"user", sinks.FindingListQuery{User: "user-a"}, "A-3,A-1"},
		{"user by UPN", sinks.FindingListQuery{User: "bo@contoso.example"}, "B-1"},
		{"app", sinks.FindingListQuery{App: "Azure Portal"}, "B-1,A-1"},
		{"scenario", sinks.FindingListQuery{Scenario: "blocked_by_conditional_access"}, "A-3"},
		{"severity", sinks.FindingListQuery{Severity: "low"}, "B-1,A-1"},
		{"flagged", sinks.FindingListQuery{Flagged: &yes}, "B-1"},
		{"not flagged", sinks.FindingListQuery{Flagged: &no}, "A-3,A-1"},
		{"user and severity", sinks.FindingListQuery{User: "user-a", Severity: "low"}, "A-1"},
	}
	b.settled(t, s, func(t *testing.T) {
		for _, c := range cases {
			q := c.q
			q.From, q.To = T0, T0.Add(time.Hour)
			got, err := s.ListFindings(ctx, q)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			for _, f := range got {
				if f.Flagged != (f.SignInID == "B-1") {
					t.Errorf("%s: finding of %s flagged=%v", c.name, f.SignInID, f.Flagged)
				}
			}
			if findingSignIns(got) != c.want {
				t.Errorf("%s: got %v, want %v", c.name, findingSignIns(got), c.want)
			}
		}
		if got, err := s.ListFindings(ctx, sinks.FindingListQuery{From: T0.Add(2 * time.Hour), To: T0.Add(3 * time.Hour)}); err != nil || len(got) != 0 {
			t.Errorf("outside the range: %v %v", findingSignIns(got), err)
		}
		// Pages of one, each after the last of the previous one.
		var all []schemas.Finding
		q := sinks.FindingListQuery{From: T0, To: T0.Add(time.Hour), Limit: 1}
		for range 5 {
			page, err := s.ListFindings(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > 1 {
				t.Fatalf("page of %d, limit 1", len(page))
			}
			if len(page) == 0 {
				break
			}
			all = append(all, page...)
			q.AfterAt, q.AfterID = page[0].OccurredAt, page[0].ID
		}
		if got := findingSignIns(all); got != "A-3,B-1,A-1" {
			t.Errorf("paged: %s", got)
		}
		if all[0].Title != "blocked_by_conditional_access" || all[0].Severity != "medium" || all[0].AppDisplayName != "Teams" ||
			all[0].ErrorCode != 53003 || len(all[0].Recommendations) != 1 {
			t.Errorf("A-3's finding read back as %+v", all[0])
		}
	})
}

func testFeedbackAndAcks(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	at := time.Date(2025, 3, 5, 10, 0, 0, 0, time.UTC)
	for i, fb := range []sinks.Feedback{
		{ID: "fb-1", FindingID: "f-1", SignInID: "A-1", Scenario: "invalid_credentials", Helpful: true, Comment: "exact", GivenBy: "reader:0a1b2c3d", GivenAt: at},
		{ID: "fb-2", FindingID: "f-2", SignInID: "A-3", Scenario: "blocked_by_conditional_access", Helpful: false, Comment: "it's 'quoted'\n", GivenBy: "admin:ffee0011", GivenAt: at.Add(time.Second)},
		{ID: "fb-3", FindingID: "f-1", SignInID: "A-1", Scenario: "invalid_credentials", Helpful: false, GivenBy: "reader:0a1b2c3d", GivenAt: at.Add(2 * time.Second)},
		{ID: "fb-4", FindingID: "f-3", SignInID: "B-1", Scenario: "invalid_credentials", Helpful: true, GivenBy: "reader:1", GivenAt: at.Add(2 * time.Second)},
	} {
		if err := s.AddFeedback(ctx, fb); err != nil {
			t.Fatalf("feedback %d: %v", i, err)
		}
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
	ids := func(fs []sinks.Feedback) string {
		var out []string
		for _, f := range fs {
			out = append(out, f.ID)
		}
		return join(out)
	}
	b.settled(t, s, func(t *testing.T) {
		all, err := s.ListFeedback(ctx, sinks.FeedbackQuery{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		// fb-3 and fb-4 share their time: the larger id first.
		if ids(all) != "fb-4,fb-3,fb-2,fb-1" {
			t.Fatalf("feedback order %s, want fb-4,fb-3,fb-2,fb-1", ids(all))
		}
		if all[2].Helpful || all[2].Comment != "it's 'quoted'\n" || !all[2].GivenAt.Equal(at.Add(time.Second)) ||
			all[2].FindingID != "f-2" || all[2].SignInID != "A-3" || all[2].Scenario != "blocked_by_conditional_access" ||
			!all[3].Helpful || all[3].GivenBy != "reader:0a1b2c3d" || all[3].Comment != "exact" {
			t.Fatalf("feedback = %+v", all)
		}
		page, err := s.ListFeedback(ctx, sinks.FeedbackQuery{FindingID: "f-1", Before: all[1].GivenAt, BeforeID: all[1].ID, Limit: 10})
		if err != nil || ids(page) != "fb-1" {
			t.Fatalf("f-1 after fb-3 = %s %v, want fb-1", ids(page), err)
		}
		page, err = s.ListFeedback(ctx, sinks.FeedbackQuery{Before: all[0].GivenAt, BeforeID: all[0].ID, Limit: 2})
		if err != nil || ids(page) != "fb-3,fb-2" {
			t.Fatalf("after fb-4, two = %s %v, want fb-3,fb-2", ids(page), err)
		}
		acks, err := s.Acknowledgements(ctx, []string{"B-1", "X-9"})
		if err != nil {
			t.Fatal(err)
		}
		if len(acks) != 1 || acks["B-1"].Comment != "second" || acks["B-1"].By != "admin:2" || !acks["B-1"].At.Equal(at.Add(time.Minute)) ||
			acks["B-1"].SignInID != "B-1" {
			t.Fatalf("acknowledgements = %+v", acks)
		}
		acks, err = s.Acknowledgements(ctx, []string{"A-1", "B-1"})
		if err != nil || len(acks) != 2 || acks["A-1"].By != "admin:1" || acks["A-1"].Comment != "" {
			t.Fatalf("acknowledgements of A-1, B-1 = %+v %v", acks, err)
		}
	})
}
