package clickhouse

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/signindiag/signindiag/sinks"
	"github.com/signindiag/signindiag/sinks/groupcommit"
)

// Store is the ClickHouse implementation of sinks.Store.
type Store struct {
	conn driver.Conn
	// group lets the batches written at the same time share inserts
	// (writer.go).
	group groupcommit.Group[*sinks.Batch]
	cfg   Config
	log   *slog.Logger
}

// Open connects and pings. Tables are qualified with the database name in
// every statement, so the connection itself uses the default database and
// works before the migrations created ours.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	password, err := cfg.password()
	if err != nil {
		return nil, err
	}
	tlsCfg, err := cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	maxOpen := cfg.MaxOpenConns
	if maxOpen <= 0 {
		maxOpen = 32
	}
	conn, err := ch.Open(&ch.Options{
		Addr:        []string{cfg.Addr},
		Auth:        ch.Auth{Database: "default", Username: cfg.User, Password: password},
		TLS:         tlsCfg,
		DialTimeout: cfg.DialTimeout,
		Compression: &ch.Compression{Method: compressionMethods[cfg.Compression]},
		// Ingestion: a few connections per partition worker (one per
		// table of a flush). The API opens a store of its own, so its
		// readers never take these.
		MaxOpenConns: maxOpen,
		MaxIdleConns: min(8, maxOpen),
		ClientInfo: ch.ClientInfo{Products: []struct {
			Name    string
			Version string
		}{{Name: "signindiag", Version: "0.1"}}},
	})
	if err != nil {
		return nil, fmt.Errorf("clickhouse: open %s: %w", cfg.Addr, err)
	}
	s := &Store{conn: taggedConn{conn}, cfg: cfg, log: log}
	if err := s.Ping(ctx); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return s, nil
}

var _ sinks.Store = (*Store)(nil)

// compressionMethods are the values of Config.Compression.
var compressionMethods = map[string]ch.CompressionMethod{
	"lz4": ch.CompressionLZ4, "zstd": ch.CompressionZSTD, "none": ch.CompressionNone,
	"": ch.CompressionLZ4, // a Config built in code without the field
}

// Ping checks that the server answers.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	if err := s.conn.Ping(ctx); err != nil {
		return fmt.Errorf("clickhouse: ping %s: %w", s.cfg.Addr, err)
	}
	return nil
}

// PoolStats reports the connection pool's size and use.
func (s *Store) PoolStats() driver.Stats { return s.conn.Stats() }

// Close releases the connections.
func (s *Store) Close() error { return s.conn.Close() }

// table qualifies a table name with the configured database (validated as
// an identifier, so it is safe to splice).
func (s *Store) table(name string) string { return s.cfg.Database + "." + name }

// sql fills {{db}} in a statement.
func (s *Store) sql(stmt string) string { return strings.ReplaceAll(stmt, "{{db}}", s.cfg.Database) }
