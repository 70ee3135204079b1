package clickhouse

import (
	"context"
	"fmt"
	"io/fs"
	"strings"

	chschema "github.com/signindiag/signindiag/sinks/clickhouse/schema"
)

// DropTablesForTest removes the sign-in tables, to provoke errors no retry
// can fix.
func (s *Store) DropTablesForTest(ctx context.Context) error {
	for _, t := range []string{"signins", "signin_keys", "signin_docs", "signin_lookup"} {
		if err := s.conn.Exec(ctx, fmt.Sprintf("DROP TABLE IF EXISTS %s", s.table(t))); err != nil {
			return err
		}
	}
	return nil
}

// HoldConnectionForTest runs a long query and keeps its connection busy
// until release is called.
func (s *Store) HoldConnectionForTest(ctx context.Context) (release func(), err error) {
	ctx, cancel := context.WithCancel(ctx)
	rows, err := s.conn.Query(ctx, "SELECT number FROM system.numbers LIMIT 100000000")
	if err != nil {
		cancel()
		return nil, err
	}
	rows.Next()
	return func() { cancel(); rows.Close() }, nil
}

// MergeForTest merges a table's parts, as ClickHouse does in the
// background, so a test sees what a ReplacingMergeTree keeps.
func (s *Store) MergeForTest(ctx context.Context, table string) error {
	return s.conn.Exec(ctx, fmt.Sprintf("OPTIMIZE TABLE %s FINAL", s.table(table)))
}

// MergeAllForTest merges the parts of every table of the database, as
// ClickHouse does in the background at a time of its choosing.
func (s *Store) MergeAllForTest(ctx context.Context) error {
	rows, err := s.conn.Query(ctx, "SELECT name FROM system.tables WHERE database = ? AND engine LIKE '%MergeTree' ORDER BY name", s.cfg.Database)
	if err != nil {
		return err
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			_ = rows.Close()
			return err
		}
		tables = append(tables, name)
	}
	_ = rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(tables) == 0 {
		return fmt.Errorf("no tables to merge in %s", s.cfg.Database)
	}
	for _, t := range tables {
		if err := s.MergeForTest(ctx, t); err != nil {
			return fmt.Errorf("merge %s: %w", t, err)
		}
	}
	return nil
}

// RebuildFlagHitsForTest empties the flag pairs derived at write time and
// runs migration 0007's backfill again over what is stored.
func (s *Store) RebuildFlagHitsForTest(ctx context.Context) error {
	for _, t := range []string{"flag_hits", "flag_hits_by_user"} {
		if err := s.conn.Exec(ctx, fmt.Sprintf("TRUNCATE TABLE %s", s.table(t))); err != nil {
			return err
		}
	}
	body, err := fs.ReadFile(chschema.Migrations, "0007_flag_hits.sql")
	if err != nil {
		return err
	}
	for _, stmt := range splitStatements(string(body)) {
		if strings.HasPrefix(strings.ToUpper(stmt), "INSERT") {
			if err := s.conn.Exec(ctx, s.sql(stmt)); err != nil {
				return fmt.Errorf("backfill: %w", err)
			}
		}
	}
	return nil
}
