package sqlite_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
	"github.com/signindiag/signindiag/sinks/sqlite"
)

// Documents are stored compressed against a dictionary the store learns
// from its first large group of sign-ins; the sign-ins written before
// it stay readable, and so does every document after a restart, from a
// store that reads the dictionary back from the file, which then goes on
// compressing with the same one.
func TestDocumentsCompressAgainstALearnedDictionary(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "signindiag.db")
	reopen := func() *sqlite.Store {
		s, err := sqlite.Open(ctx, sqlite.Config{Path: path}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		return s
	}
	var written []schemas.SignIn
	batch := func(first, n int) *sinks.Batch {
		b := &sinks.Batch{}
		for i := first; i < first+n; i++ {
			si := signIn(fmt.Sprintf("sign-in-%04d", i), fmt.Sprintf("user-%d", i%37), fmt.Sprintf("user-%d@contoso.example", i%37),
				t0.Add(time.Duration(i)*time.Second), []int{0, 0, 0, 50126, 53003}[i%5])
			si.IPAddress = fmt.Sprintf("203.0.113.%d", i%200)
			si.AppDisplayName = []string{"Azure Portal", "Microsoft Teams", "Office 365 Exchange Online"}[i%3]
			written = append(written, si)
			b.SignIns = append(b.SignIns, record(si, int64(i)))
		}
		return b
	}
	readAll := func(s *sqlite.Store) {
		t.Helper()
		for _, want := range written {
			got, err := s.SignIns(ctx, sinks.SignInQuery{CorrelationID: want.CorrelationID, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].ID != want.ID || got[0].UserPrincipalName != want.UserPrincipalName ||
				got[0].IPAddress != want.IPAddress || got[0].AppDisplayName != want.AppDisplayName ||
				got[0].Status.ErrorCode != want.Status.ErrorCode || !got[0].CreatedDateTime.Equal(want.CreatedDateTime) {
				t.Fatalf("lookup of %s: got %+v", want.CorrelationID, got)
			}
		}
	}
	formats := func(s *sqlite.Store, plain, dict, dicts int) {
		t.Helper()
		got, n, err := s.DocFormatsForTest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got[0xC2] != plain || got[0xC3] != dict || len(got) > 2 || n != dicts {
			t.Fatalf("stored documents by first byte %v, %d dictionaries; want %d plain S2, %d with a dictionary, %d dictionaries",
				got, n, plain, dict, dicts)
		}
	}

	s := reopen()
	if err := s.Write(ctx, batch(0, 10)); err != nil { // too few to learn from
		t.Fatal(err)
	}
	formats(s, 10, 0, 0)
	if err := s.Write(ctx, batch(10, 300)); err != nil { // learns, then compresses the next batch
		t.Fatal(err)
	}
	if err := s.Write(ctx, batch(310, 300)); err != nil {
		t.Fatal(err)
	}
	formats(s, 310, 300, 1)
	readAll(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = reopen()
	defer s.Close()
	readAll(s)
	if err := s.Write(ctx, batch(610, 300)); err != nil {
		t.Fatal(err)
	}
	formats(s, 310, 600, 1)
	readAll(s)
}
