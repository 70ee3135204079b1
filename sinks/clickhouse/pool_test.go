package clickhouse_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/signindiag/signindiag/sinks/clickhouse"
	"github.com/signindiag/signindiag/sinks/clickhouse/clickhousetest"
)

// TestStoresHaveSeparatePools: the binary gives API reads a store of their
// own; with its pool exhausted, another store (ingestion's) still gets a
// connection at once.
func TestStoresHaveSeparatePools(t *testing.T) {
	cfg := clickhousetest.Config(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	apiCfg := cfg
	apiCfg.MaxOpenConns = 1
	api, err := clickhouse.Open(ctx, apiCfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	ingest, err := clickhouse.Open(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer ingest.Close()
	if got := api.PoolStats().MaxOpenConns; got != 1 {
		t.Fatalf("API pool allows %d connections, want 1", got)
	}
	release, err := api.HoldConnectionForTest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := api.Ping(short); err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a second API query got a connection from a pool of one: %v", err)
	}
	if err := ingest.Ping(ctx); err != nil {
		t.Fatalf("ingestion's store waited on the API's pool: %v", err)
	}
}
