package clickhouse

import (
	"context"
	"fmt"
	"time"
)

// DropExpired implements retention.Expirer: it drops every partition of
// the database's tables whose time range ends before before. Tables are
// partitioned by month (toYYYYMM) or day (toYYYYMMDD) of their event time
// (window_marks: of the write), so a partition id of 6 or 8 digits is a
// time range; any other (schema_migrations' "all") is never dropped.
// DROP PARTITION is the portable retention: 18.16 has no TTL.
func (s *Store) DropExpired(ctx context.Context, before time.Time) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 4*s.cfg.QueryTimeout)
	defer cancel()
	rows, err := s.conn.Query(ctx,
		`SELECT DISTINCT table, partition_id FROM system.parts WHERE database = ? AND active ORDER BY table, partition_id`,
		s.cfg.Database)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: list partitions: %w", err)
	}
	type partition struct{ table, id string }
	var expired []partition
	for rows.Next() {
		var p partition
		if err := rows.Scan(&p.table, &p.id); err != nil {
			_ = rows.Close() // the scan error is the one to report
			return nil, fmt.Errorf("clickhouse: list partitions: %w", err)
		}
		if end, ok := partitionEnd(p.id); ok && !end.After(before) {
			expired = append(expired, p)
		}
	}
	_ = rows.Close() // rows.Err reports what went wrong while reading
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: list partitions: %w", err)
	}
	var dropped []string
	for _, p := range expired {
		// The id is all digits (partitionEnd checked), so it is safe to
		// inline; DROP PARTITION ID takes no bound parameter.
		if err := s.conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s DROP PARTITION ID '%s'", s.table(p.table), p.id)); err != nil {
			return dropped, fmt.Errorf("clickhouse: drop partition %s of %s: %w", p.id, p.table, err)
		}
		dropped = append(dropped, p.table+"/"+p.id)
	}
	return dropped, nil
}

// partitionEnd is the end of the time range a partition id names: the
// first instant after the month of a YYYYMM id or the day of a YYYYMMDD
// id. ok is false for any other id.
func partitionEnd(id string) (time.Time, bool) {
	for _, c := range id {
		if c < '0' || c > '9' {
			return time.Time{}, false
		}
	}
	switch len(id) {
	case 6:
		t, err := time.Parse("200601", id)
		return t.AddDate(0, 1, 0), err == nil
	case 8:
		t, err := time.Parse("20060102", id)
		return t.AddDate(0, 0, 1), err == nil
	}
	return time.Time{}, false
}
