package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/signindiag/signindiag/sinks"
	"github.com/signindiag/signindiag/sinks/clickhouse"
	"github.com/signindiag/signindiag/sinks/sqlite"
)

// The storage backends (SIGNINDIAG_STORE).
const (
	storeAuto       = "auto"
	storeClickHouse = "clickhouse"
	storeSQLite     = "sqlite"
)

// stores are the store ingestion writes to and the one the API reads
// from: for ClickHouse a second pool, as large as the number of requests
// admitted at once, so a flood of lookups waits for its own connections,
// never for ingestion's; SQLite readers have a pool of their own inside
// the one store already.
type stores struct {
	ingest, api sinks.Store
	name        string // for logs and health checks
	close       func()
}

// unready is what /readyz says when the store does not answer.
func (s *stores) unready() string {
	if s.name == storeClickHouse {
		return "ClickHouse does not answer"
	}
	return "the embedded store does not answer"
}

func openStores(ctx context.Context, cfg *Config, serve bool, log *slog.Logger) (*stores, error) {
	switch cfg.Store {
	case storeSQLite:
		st, err := openSQLite(ctx, cfg, log)
		if err != nil {
			return nil, err
		}
		return &stores{ingest: st, api: st, name: "sqlite", close: func() { _ = st.Close() }}, nil
	case storeClickHouse:
		st, err := openClickHouse(ctx, cfg.ClickHouse, log)
		if err != nil {
			return nil, err
		}
		s := &stores{ingest: st, api: st, name: "clickhouse", close: func() { _ = st.Close() }}
		if serve {
			apiCfg := cfg.ClickHouse
			apiCfg.MaxOpenConns = cfg.API.MaxConcurrent
			api, err := openClickHouse(ctx, apiCfg, log)
			if err != nil {
				_ = st.Close() // the API store's error is the one to report
				return nil, err
			}
			s.api = api
			s.close = func() { _ = api.Close(); _ = st.Close() }
		}
		return s, nil
	}
	return nil, fmt.Errorf("%sSTORE: unknown backend %q", envPrefix, cfg.Store)
}

// openStore opens the one store of a command that only reads.
func openStore(ctx context.Context, cfg *Config, log *slog.Logger) (sinks.Store, error) {
	s, err := openStores(ctx, cfg, false, log)
	if err != nil {
		return nil, err
	}
	return s.ingest, nil
}

func openSQLite(ctx context.Context, cfg *Config, log *slog.Logger) (sinks.Store, error) {
	st, err := sqlite.Open(ctx, cfg.SQLite, log)
	if err != nil {
		return nil, err
	}
	// Reading commands migrate too: the embedded file may be new, and a
	// reader of an empty store should see no rows, not missing tables.
	if _, err := st.Migrate(ctx); err != nil {
		_ = st.Close() // the migration's error is the one to report
		return nil, err
	}
	return st, nil
}

// openClickHouse connects to ClickHouse, retrying for a while: in a
// compose stack the server may still be starting.
func openClickHouse(ctx context.Context, cfg clickhouse.Config, log *slog.Logger) (*clickhouse.Store, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		store, err := clickhouse.Open(ctx, cfg, log)
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil || clickhouse.IsPermanent(err) {
			return store, err
		}
		log.Warn("clickhouse not reachable yet; retrying", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
}
