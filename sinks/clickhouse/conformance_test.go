package clickhouse_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/signindiag/signindiag/sinks"
	"github.com/signindiag/signindiag/sinks/clickhouse"
	"github.com/signindiag/signindiag/sinks/clickhouse/clickhousetest"
	"github.com/signindiag/signindiag/sinks/sinkstest"
)

// TestConformance holds the ClickHouse store to the contract every backend
// meets. Settle merges every table's parts (OPTIMIZE … FINAL), so each
// result is checked both before ReplacingMergeTree collapses duplicates
// and after.
func TestConformance(t *testing.T) {
	sinkstest.Run(t, sinkstest.Backend{
		Open: func(t *testing.T) sinks.Store { return open(t) },
		Settle: func(t *testing.T, s sinks.Store) {
			t.Helper()
			if err := s.(*clickhouse.Store).MergeAllForTest(context.Background()); err != nil {
				t.Fatal(err)
			}
		},
		Rebuild: func(t *testing.T, s sinks.Store) {
			t.Helper()
			if err := s.(*clickhouse.Store).RebuildFlagHitsForTest(context.Background()); err != nil {
				t.Fatal(err)
			}
		},
	})
}

// open returns a fresh, migrated store in a database of its own, closed
// and dropped when t ends.
func open(t *testing.T) *clickhouse.Store {
	t.Helper()
	cfg := clickhousetest.Config(t)
	ctx := context.Background()
	s, err := clickhouse.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}
