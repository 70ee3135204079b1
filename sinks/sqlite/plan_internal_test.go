package sqlite

import (
	"context"
	"strings"
	"testing"
)

// The lookups the API must answer in milliseconds at millions of sign-ins
// go through an index, never a scan of signins: EXPLAIN QUERY PLAN says
// which (the planner's choice on an empty file is the one it makes on a
// full one, as no ANALYZE statistics are kept).
func TestReadPathsUseTheirIndexes(t *testing.T) {
	ctx := context.Background()
	s := openMigrated(t)
	users := "user_h IN (?, ?) AND user_key IN (?, ?)"
	for _, c := range []struct{ name, query, index string }{
		{"correlationId", "SELECT doc FROM signins WHERE correlation_h = ? AND correlation_id = ? " + signInOrder + " LIMIT 10", "signins_correlation"},
		{"requestId", "SELECT doc FROM signins WHERE id = ? " + signInOrder + " LIMIT 10", "signins_identity"},
		{"user search", "SELECT doc FROM signins WHERE " + users + " AND created_ms >= ? AND created_ms < ? " + signInOrder + " LIMIT 10", "signins_user_time"},
		{"failure count", "SELECT COUNT(DISTINCT id) FROM signins WHERE " + users + " AND created_ms > ? AND created_ms <= ? AND is_failure = 1", "signins_user_time"},
		{"list", "SELECT doc FROM signins WHERE created_ms >= ? AND created_ms < ? ORDER BY created_ms DESC, id LIMIT 10", "signins_time"},
		{"spikes", "SELECT (created_ms / 1000 / 60) * 60 AS b, app AS v, COUNT(*) FROM signins WHERE " + failureRows + " GROUP BY b, v", "signins_failure_facts"},
		{"evidence by IP", "SELECT user_key FROM signins WHERE ip_address = ? AND created_ms > ? AND created_ms <= ? AND is_failure = 1", "signins_failure_facts"},
		{"watermark fallback", "SELECT created_ms FROM signins WHERE shard = ? AND kafka_offset < ? ORDER BY created_ms DESC LIMIT 1", "signins_time"},
		{"flag page", latestFlags, "flags_time"},
		{"flags by key", "SELECT id FROM flags WHERE signin_id IN (?, ?) OR (request_id IN (?, ?) AND request_id != '') OR (correlation_id IN (?, ?) AND correlation_id != '')",
			"MULTI-INDEX OR"},
		{"flagged sign-ins", "SELECT doc FROM signins WHERE id IN (?, ?) OR (correlation_h IN (?) AND correlation_id IN (?)) " + signInOrder + " LIMIT 10",
			"MULTI-INDEX OR"},
		{"findings of sign-ins", "SELECT doc FROM findings WHERE signin_id IN (?, ?) AND user_key IN (?) AND occurred_s >= ? AND occurred_s <= ?", "findings_signin"},
		{"findings list", "SELECT f.doc FROM findings f WHERE f.occurred_s >= ? AND f.occurred_s <= ? ORDER BY f.occurred_s DESC, f.id LIMIT 10", "findings_time"},
		{"rebuild", "SELECT id FROM window_failures WHERE shard = ? AND created_ms > ? AND kafka_offset < ? ORDER BY created_ms", "PRIMARY KEY"},
	} {
		n := strings.Count(c.query, "?")
		args := make([]any, n)
		for i := range args {
			args[i] = "x"
		}
		rows, err := s.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+c.query, args...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var plan []string
		scan := false
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
			// A scan along an index (read backwards to the first match) is
			// fine; a scan of a table is not.
			scan = scan || strings.HasPrefix(detail, "SCAN") && !strings.Contains(detail, "INDEX")
		}
		_ = rows.Close()
		text := strings.Join(plan, "; ")
		if !strings.Contains(text, c.index) || scan {
			t.Errorf("%s: plan %q, want it through %s", c.name, text, c.index)
		}
	}
}
