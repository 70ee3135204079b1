package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// expiry names, for every table with a time, the rows retention deletes:
// those whose event time is before the cutoff.
// key identifies a row for the chunked delete (the primary key of a
// WITHOUT ROWID table).
var expiry = []struct{ table, key, where string }{
	{"signins", "rowid", "created_ms < ?"},
	{"findings", "rowid", "occurred_s < ? / 1000"},
	{"flags", "rowid", "flagged_ms < ?"},
	{"window_failures", "(shard, created_ms, category, id, kafka_offset)", "created_ms < ?"},
	{"window_ip_failures", "(shard, created_ms, ip, identity, kafka_offset)", "created_ms < ?"},
	{"window_marks", "(stage, shard, kafka_offset)", "written_ms < ?"},
	{"incidents", "rowid", "last_ms < ?"},
	{"feedback", "rowid", "given_ms < ?"},
	{"acknowledgements", "signin_id", "acknowledged_ms < ?"},
	// A mapping's seen_ms is refreshed daily while the UPN signs in.
	{"user_upns", "(upn, user_key)", "seen_ms < ?"},
}

// deleteChunk bounds one delete transaction, so batches of the pipeline
// are not held up behind a long retention pass.
const deleteChunk = 5000

// DropExpired implements sinks.Store: it deletes what happened before the
// cutoff, table by table in chunks (each its own transaction), and names
// the tables it trimmed.
func (s *Store) DropExpired(ctx context.Context, before time.Time) ([]string, error) {
	cutoff := before.UnixMilli()
	var trimmed []string
	for _, e := range expiry {
		n, err := s.deleteChunks(ctx, e.table, fmt.Sprintf(
			"DELETE FROM %[1]s WHERE %[2]s IN (SELECT %[3]s FROM %[1]s WHERE %[4]s LIMIT %[5]d)",
			e.table, e.key, strings.Trim(e.key, "()"), e.where, deleteChunk), cutoff)
		if err != nil {
			return trimmed, err
		}
		if n > 0 {
			trimmed = append(trimmed, e.table)
		}
		if n > 0 && e.table == "user_upns" {
			s.mu.Lock()
			s.upns = make(map[upnPair]int64) // some are gone: write them again
			s.mu.Unlock()
		}
	}
	return trimmed, nil
}

func (s *Store) deleteChunks(ctx context.Context, table, stmt string, args ...any) (int64, error) {
	var total int64
	for {
		n, err := s.deleteOnce(ctx, stmt, args...)
		if err != nil {
			return total, fmt.Errorf("sqlite: expire %s: %w", table, classify(err))
		}
		total += n
		if n < deleteChunk {
			return total, nil
		}
	}
}

// deleteOnce runs one chunk of a deletion. It does not wait for the log's
// fsync (durability.go): a deletion lost to a power cut is made again by
// the next pass.
func (s *Store) deleteOnce(ctx context.Context, stmt string, args ...any) (int64, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	res, err := s.w.ExecContext(ctx, stmt, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
