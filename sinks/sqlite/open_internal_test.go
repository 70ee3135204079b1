package sqlite

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
)

// openMigrated opens a store in a new file of the test's and migrates it;
// the test's cleanup closes it.
func openMigrated(t *testing.T) *Store {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, Config{Path: filepath.Join(t.TempDir(), "signindiag.db")}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}
