package sqlite

import (
	"context"
	"fmt"
)

// DropTablesForTest removes the sign-in tables, to provoke errors no retry
// can fix.
func (s *Store) DropTablesForTest(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range []string{"signins", "window_failures"} {
		if _, err := s.w.ExecContext(ctx, fmt.Sprintf("DROP TABLE IF EXISTS %s", t)); err != nil {
			return err
		}
	}
	return nil
}
