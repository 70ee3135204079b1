package clickhouse

import (
	"context"
	"fmt"
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
