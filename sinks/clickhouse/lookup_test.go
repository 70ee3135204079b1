package clickhouse_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

// A user search reads the newest hours first and widens the range until a
// page is full: with a limit, the newest sign-ins come back in order, and
// an app filter that only the oldest ones match still finds them.
func TestUserSearchReadsBackUntilAPageIsFull(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	var recs []sinks.SignInRecord
	for i := range 30 { // one every 20 minutes over 10 hours
		si := signIn(fmt.Sprintf("H-%02d", i), "user-h", "h@contoso.example", t0.Add(time.Duration(i)*20*time.Minute), 0)
		if i < 3 {
			si.AppID, si.AppDisplayName = "app-old", "Old App"
		}
		recs = append(recs, record(si, int64(i)))
	}
	// A later version of H-10, re-emitted an hour later, moves it up.
	moved := recs[10].SignIn
	moved.CreatedDateTime = t0.Add(10*time.Hour + 5*time.Minute)
	if err := s.Write(ctx, &sinks.Batch{SignIns: recs}); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, &sinks.Batch{SignIns: []sinks.SignInRecord{record(moved, 30)}}); err != nil {
		t.Fatal(err)
	}
	to := t0.Add(11 * time.Hour)
	got, err := s.SignIns(ctx, sinks.SignInQuery{User: "h@contoso.example", From: to.Add(-48 * time.Hour), To: to, Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if order := idsInOrder(got); order != "H-10,H-29,H-28,H-27,H-26" {
		t.Fatalf("newest 5 = %s, want H-10 (re-emitted latest), H-29…H-26", order)
	}
	if !got[0].CreatedDateTime.Equal(moved.CreatedDateTime) {
		t.Fatalf("H-10 at %v, want its later version at %v", got[0].CreatedDateTime, moved.CreatedDateTime)
	}
	old, err := s.SignIns(ctx, sinks.SignInQuery{User: "h@contoso.example", App: "old app", From: to.Add(-48 * time.Hour), To: to, Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if order := idsInOrder(old); order != "H-02,H-01,H-00" {
		t.Fatalf("app filter = %s, want H-02,H-01,H-00", order)
	}
	all, err := s.SignIns(ctx, sinks.SignInQuery{User: "h@contoso.example", From: to.Add(-48 * time.Hour), To: to, Limit: 100})
	if err != nil || len(all) != 30 {
		t.Fatalf("all: %d sign-ins, err %v; want 30 (each once)", len(all), err)
	}
}

// Flags far apart in time are paged in order over several slices, and a
// target flagged twice is listed once, under its latest flag, even when
// the earlier flag is days older.
func TestFlaggedPagesAcrossDaysListEachTargetOnce(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	ages := []time.Duration{time.Hour, 2 * 24 * time.Hour, 10 * 24 * time.Hour, 100 * 24 * time.Hour}
	var recs []sinks.SignInRecord
	var flags []schemas.Flag
	for i, age := range ages {
		si := signIn(fmt.Sprintf("D-%d", i), "user-d", "d@contoso.example", now.Add(-age-time.Minute), 50126)
		recs = append(recs, record(si, int64(i)))
		flags = append(flags, schemas.Flag{ID: fmt.Sprintf("f%d", i), SignInID: si.ID, UserID: "user-d", FlaggedAt: now.Add(-age), FlaggedBy: "helpdesk"})
	}
	// D-3 (100 days old) is flagged again 3 hours ago: it belongs between D-0 and D-1.
	flags = append(flags, schemas.Flag{ID: "again", SignInID: "D-3", UserID: "user-d", FlaggedAt: now.Add(-3 * time.Hour), FlaggedBy: "admin"})
	if err := s.Write(ctx, &sinks.Batch{SignIns: recs, Flags: flags}); err != nil {
		t.Fatal(err)
	}
	var order []string
	q := sinks.FlaggedQuery{Limit: 2}
	for range 5 {
		page, err := s.Flagged(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, f := range page {
			order = append(order, f.SignIn.ID+"@"+f.FlaggedBy)
		}
		last := page[len(page)-1]
		q.Before, q.BeforeID = last.FlaggedAt, last.FlagID
	}
	if got := strings.Join(order, ","); got != "D-0@helpdesk,D-3@admin,D-1@helpdesk,D-2@helpdesk" {
		t.Fatalf("pages = %s", got)
	}
}

func idsInOrder(signIns []schemas.SignIn) string {
	var out []string
	for _, s := range signIns {
		out = append(out, s.ID)
	}
	return strings.Join(out, ",")
}
