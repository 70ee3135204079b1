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

// DocFormatsForTest counts the stored sign-in documents by their first
// byte, and the dictionaries stored.
func (s *Store) DocFormatsForTest(ctx context.Context) (formats map[byte]int, dicts int, err error) {
	rows, err := s.r.QueryContext(ctx, "SELECT substr(doc, 1, 1) FROM signins")
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	formats = map[byte]int{}
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, 0, err
		}
		formats[b[0]]++
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	err = s.r.QueryRowContext(ctx, "SELECT count(*) FROM doc_dicts").Scan(&dicts)
	return formats, dicts, err
}

// PageSizeForTest is the file's page size.
func (s *Store) PageSizeForTest(ctx context.Context) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, "PRAGMA page_size").Scan(&n)
	return n, err
}
