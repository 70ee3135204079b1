package clickhouse

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/signindiag/signindiag/sinks"
)

// incidentDoc is what an incident row's doc holds beyond its columns.
type incidentDoc struct {
	Severity        string          `json:"severity"`
	Title           string          `json:"title"`
	Summary         string          `json:"summary"`
	Recommendations []string        `json:"recommendations"`
	Details         json.RawMessage `json:"details,omitempty"`
}

const incidentColumns = "detection, key, start_at, id, start_ms, first_at, last_at, first_ms, last_ms, member_count, superseded_by, shard, version, doc"

// addIncidents adds the incidents with their own versions (their member
// counts; sinks.IncidentRecord.Version), not the write's.
func addIncidents(insert driver.Batch, b *sinks.Batch, _ uint64) error {
	for i := range b.Incidents {
		r := &b.Incidents[i]
		doc, err := json.Marshal(incidentDoc{Severity: r.Severity, Title: r.Title, Summary: r.Summary, Recommendations: r.Recommendations, Details: r.Details})
		if err != nil {
			return fmt.Errorf("encode incident %s: %w", r.ID, err)
		}
		if err := insert.Append(r.Detection, r.Key, r.Start, r.ID, r.Start.UnixMilli(), r.First, r.Last,
			r.First.UnixMilli(), r.Last.UnixMilli(), uint32(r.Count), r.SupersededBy, uint16(r.Shard), r.Version(), string(doc)); err != nil {
			return err
		}
	}
	return nil
}

// Incidents implements sinks.IncidentReader: the latest version of each
// incident (LIMIT 1 BY id on version), superseded ones dropped, newest
// start first. A version's span only grows and a superseded row carries
// its survivor's span, so filtering on the span before picking the latest
// version loses nothing.
func (s *Store) Incidents(ctx context.Context, q sinks.IncidentQuery) ([]sinks.IncidentRecord, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	limit := sinks.PageLimit(q.Limit)
	where := []string{"1 = 1"}
	var args []any
	// By key: incidents_by_key has granules of 64 rows, so each key reads
	// a few dozen rows per part; listings read incidents.
	table := "incidents"
	if q.Detection != "" {
		where = append(where, "detection = ?")
		args = append(args, q.Detection)
	}
	if len(q.Keys) > 0 {
		keys := make([]any, len(q.Keys))
		for i, k := range q.Keys {
			keys[i] = k
		}
		where = append(where, "key IN ?")
		args = append(args, ch.GroupSet{Value: keys})
		table = "incidents_by_key"
	}
	if !q.To.IsZero() {
		where = append(where, "first_at <= ? AND first_ms <= ?")
		args = append(args, q.To, q.To.UnixMilli())
	}
	if !q.From.IsZero() {
		where = append(where, "last_at >= ? AND last_ms >= ?")
		args = append(args, q.From.Truncate(time.Second), q.From.UnixMilli())
	}
	outer := "superseded_by = ''"
	if !q.AfterStart.IsZero() {
		outer += " AND (start_ms < ? OR (start_ms = ? AND id > ?))"
		args = append(args, q.AfterStart.UnixMilli(), q.AfterStart.UnixMilli(), q.AfterID)
	}
	query := fmt.Sprintf(`SELECT id, detection, key, start_ms, first_ms, last_ms, member_count, shard, doc FROM (
		SELECT id, detection, key, start_ms, first_ms, last_ms, member_count, superseded_by, shard, doc FROM %s
		WHERE %s ORDER BY id, version DESC LIMIT 1 BY id)
	WHERE %s ORDER BY start_ms DESC, id LIMIT %d`, s.table(table), strings.Join(where, " AND "), outer, limit)
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: select incidents: %w", err)
	}
	defer rows.Close()
	var out []sinks.IncidentRecord
	for rows.Next() {
		var r sinks.IncidentRecord
		var start, first, last int64
		var count uint32
		var shard uint16
		var doc string
		if err := rows.Scan(&r.ID, &r.Detection, &r.Key, &start, &first, &last, &count, &shard, &doc); err != nil {
			return nil, fmt.Errorf("clickhouse: select incidents: %w", err)
		}
		var d incidentDoc
		if err := json.Unmarshal([]byte(doc), &d); err != nil {
			return nil, fmt.Errorf("clickhouse: decode stored incident %s: %w", r.ID, err)
		}
		r.Start, r.First, r.Last = time.UnixMilli(start).UTC(), time.UnixMilli(first).UTC(), time.UnixMilli(last).UTC()
		r.Count, r.Shard = int(count), int(shard)
		r.Severity, r.Title, r.Summary, r.Recommendations, r.Details = d.Severity, d.Title, d.Summary, d.Recommendations, d.Details
		out = append(out, r)
	}
	return out, rows.Err()
}

// IncidentWarmSpan implements sinks.IncidentWarmSource.
func (s *Store) IncidentWarmSpan(ctx context.Context, keys string, detections []string, shard int, beforeOffset int64, base time.Duration) (time.Duration, error) {
	if beforeOffset <= 0 || len(detections) == 0 {
		return base, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 4*s.cfg.QueryTimeout)
	defer cancel()
	latest, ok, err := s.watermark(ctx, keys, shard, beforeOffset)
	if err != nil || !ok {
		return base, err
	}
	dets := make([]any, len(detections))
	for i, d := range detections {
		dets[i] = d
	}
	var earliest int64
	var n uint64
	err = s.conn.QueryRow(ctx, fmt.Sprintf(
		`SELECT min(first_ms), count() FROM %s WHERE detection IN ? AND shard = ? AND last_ms > ?`, s.table("incidents")),
		ch.GroupSet{Value: dets}, uint16(shard), latest-base.Milliseconds()).Scan(&earliest, &n)
	if err != nil {
		return 0, fmt.Errorf("clickhouse: incidents to rebuild on shard %d: %w", shard, err)
	}
	if n == 0 {
		return base, nil
	}
	return max(base, time.Duration(latest-earliest+1)*time.Millisecond), nil
}
