package clickhouse

import (
	"context"
	"fmt"
)

// DropTablesForTest removes the sign-in tables, to provoke errors no retry
// can fix.
func (s *Store) DropTablesForTest(ctx context.Context) error {
	for _, t := range []string{"signins", "signin_keys"} {
		if err := s.conn.Exec(ctx, fmt.Sprintf("DROP TABLE IF EXISTS %s", s.table(t))); err != nil {
			return err
		}
	}
	return nil
}

// MergeForTest merges a table's parts, as ClickHouse does in the
// background, so a test sees what a ReplacingMergeTree keeps.
func (s *Store) MergeForTest(ctx context.Context, table string) error {
	return s.conn.Exec(ctx, fmt.Sprintf("OPTIMIZE TABLE %s FINAL", s.table(table)))
}
