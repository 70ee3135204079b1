package flagjoin_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
	"github.com/signindiag/signindiag/sinks/flagjoin"
)

var t0 = time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC)

// queue is a backend of flags (newest first) and stored sign-ins.
type queue struct {
	flags   []flagjoin.Target
	signIns []schemas.SignIn
	reads   int
}

func (q *queue) Targets(_ context.Context, before time.Time, beforeID string, limit int) ([]flagjoin.Target, error) {
	q.reads++
	cursor := flagjoin.Target{At: before, ID: beforeID}
	var out []flagjoin.Target
	for _, f := range q.flags {
		if cursor.After(&f) && len(out) < limit {
			out = append(out, f)
		}
	}
	return out, nil
}

func (q *queue) SignInsNamed(_ context.Context, targets []flagjoin.Target, limit int) ([]schemas.SignIn, error) {
	var out []schemas.SignIn
	for _, si := range q.signIns {
		for _, t := range targets {
			if t.Names(&si) && len(out) < limit {
				out = append(out, si)
				break
			}
		}
	}
	return out, nil
}

func (q *queue) FlagsNaming(_ context.Context, signIns []schemas.SignIn) ([]flagjoin.Target, error) {
	keys := flagjoin.Keys(signIns)
	var out []flagjoin.Target
	for _, f := range q.flags {
		for _, k := range keys {
			if k == f.SignInID || k == f.CorrelationID || k == f.RequestID {
				out = append(out, f)
				break
			}
		}
	}
	return out, nil
}

func pages(t *testing.T, q *queue, limit int) string {
	t.Helper()
	var seen []string
	var fq sinks.FlaggedQuery
	for range 10 {
		got, err := flagjoin.Page(context.Background(), q, fq, limit)
		if err != nil {
			t.Fatal(err)
		}
		var page []string
		for _, f := range got {
			page = append(page, f.SignIn.ID+"@"+f.FlagID)
		}
		seen = append(seen, strings.Join(page, ","))
		if len(got) < limit {
			return strings.Join(seen, " | ")
		}
		fq.Before, fq.BeforeID = got[len(got)-1].FlaggedAt, got[len(got)-1].FlagID
	}
	t.Fatal("paging does not end")
	return ""
}

func TestPagesPassOverFlagsOfUnstoredSignInsAndKeepAFlagsSignInsTogether(t *testing.T) {
	si := func(id, corr string) schemas.SignIn {
		return schemas.SignIn{ID: id, CorrelationID: corr, Category: schemas.CategoryInteractive}
	}
	q := &queue{
		flags: []flagjoin.Target{
			{SignInID: "ghost-1", At: t0.Add(5 * time.Minute), ID: "f5"},
			{SignInID: "ghost-2", At: t0.Add(4 * time.Minute), ID: "f4"},
			{CorrelationID: "c-ab", At: t0.Add(3 * time.Minute), ID: "f3"}, // names a and b
			{SignInID: "c", At: t0.Add(2 * time.Minute), ID: "f2"},
			{SignInID: "a", At: t0.Add(time.Minute), ID: "f1"}, // a again, older: listed under f3
		},
		signIns: []schemas.SignIn{si("a", "c-ab"), si("b", "c-ab"), si("c", "c-c")},
	}
	if got, want := pages(t, q, 1), "a@f3,b@f3 | c@f2 | "; got != want {
		t.Errorf("pages of one:\n got %q\nwant %q", got, want)
	}
	if got, want := pages(t, q, 10), "a@f3,b@f3,c@f2"; got != want {
		t.Errorf("one page:\n got %q\nwant %q", got, want)
	}
}
