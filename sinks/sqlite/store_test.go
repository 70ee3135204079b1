package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
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
// A finding computed over a complete window is what a lookup returns, even
// when a redelivery hours later recomputes it over an evicted window and
// is written after it; a later complete computation still replaces it.
// The rebuild reads what the window saw before the committed offset even
// after a merge has replaced a failure's row with a later copy (a
// redelivery stored at a later offset), and counts its span back from the
// recorded watermark (a success's time), not from the latest failure.
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
// The file is the store: what a closed store wrote, a store opened on the
// same path (in a directory Open created) reads, and migrating it again
// applies nothing.
func TestReopenReadsWhatWasWritten(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a", "b", "signindiag.db")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path}, log)
	if err != nil {
		t.Fatal(err)
	}
	if applied, err := s.Migrate(ctx); err != nil || len(applied) == 0 {
		t.Fatalf("first migration: %v %v", applied, err)
	}
	si := signIn("K-1", "user-k", "ku@contoso.example", t0, 50126)
	if err := s.Write(ctx, &sinks.Batch{SignIns: []sinks.SignInRecord{record(si, 7)}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = sqlite.Open(ctx, sqlite.Config{Path: path}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if applied, err := s.Migrate(ctx); err != nil || len(applied) != 0 {
		t.Fatalf("migration on reopen: %v %v, want nothing", applied, err)
	}
	got, err := s.SignIns(ctx, sinks.SignInQuery{User: "KU@contoso.example", From: t0, To: t0})
	if err != nil || fmt.Sprint(ids(got)) != "[K-1]" {
		t.Fatalf("after reopening: %v %v, want K-1", ids(got), err)
	}
}

// A new file takes the configured page size (the driver runs a DSN's
// pragmas sorted by name, so one set after WAL mode would be ignored), and
// an existing file keeps the size it was created with.
func TestNewFilesTakeThePageSize(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "signindiag.db")
	pageSize := func(size int) int {
		t.Helper()
		s, err := sqlite.Open(ctx, sqlite.Config{Path: path, PageSize: size}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := s.PageSizeForTest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := pageSize(8192); got != 8192 {
		t.Fatalf("new file: page size %d, want 8192", got)
	}
	if got := pageSize(2048); got != 8192 {
		t.Fatalf("reopened file: page size %d, want the 8192 it was created with", got)
	}
}
