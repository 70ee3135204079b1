package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

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

// incidents stores each incident's highest version (IncidentRecord.Version):
// a stale smaller version written later leaves the row alone, a replay of
// the same version rewrites it as it was.
func (w *batchWriter) incidents(b *preparedBatch) error {
	return w.exec("incidents", `INSERT INTO incidents (id, detection, key, start_ms, first_ms, last_ms, member_count,
		superseded_by, shard, version, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET detection = excluded.detection, key = excluded.key, start_ms = excluded.start_ms,
			first_ms = excluded.first_ms, last_ms = excluded.last_ms, member_count = excluded.member_count,
			superseded_by = excluded.superseded_by, shard = excluded.shard, version = excluded.version, doc = excluded.doc
		WHERE excluded.version >= incidents.version`,
		len(b.Incidents), func(i int, dst []any) ([]any, error) {
			r := &b.Incidents[i]
			doc, err := json.Marshal(incidentDoc{Severity: r.Severity, Title: r.Title, Summary: r.Summary,
				Recommendations: r.Recommendations, Details: r.Details})
			if err != nil {
				return nil, fmt.Errorf("encode incident %s: %w", r.ID, err)
			}
			return append(dst, r.ID, r.Detection, r.Key, r.Start.UnixMilli(), r.First.UnixMilli(), r.Last.UnixMilli(),
				r.Count, r.SupersededBy, r.Shard, int64(r.Version()), string(doc)), nil
		})
}

// Incidents implements sinks.IncidentReader: superseded incidents left
// out, newest start first, then by id.
func (s *Store) Incidents(ctx context.Context, q sinks.IncidentQuery) ([]sinks.IncidentRecord, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	where := []string{"superseded_by = ''"}
	var args []any
	if q.Detection != "" {
		where = append(where, "detection = ?")
		args = append(args, q.Detection)
	}
	if len(q.Keys) > 0 {
		where = append(where, fmt.Sprintf("key IN (%s)", marks(len(q.Keys))))
		args = append(args, anys(q.Keys)...)
	}
	if !q.To.IsZero() {
		where = append(where, "first_ms <= ?")
		args = append(args, q.To.UnixMilli())
	}
	if !q.From.IsZero() {
		where = append(where, "last_ms >= ?")
		args = append(args, q.From.UnixMilli())
	}
	if !q.AfterStart.IsZero() {
		ms := q.AfterStart.UnixMilli()
		where = append(where, "(start_ms < ? OR (start_ms = ? AND id > ?))")
		args = append(args, ms, ms, q.AfterID)
	}
	rows, err := s.r.QueryContext(ctx, fmt.Sprintf(
		`SELECT id, detection, key, start_ms, first_ms, last_ms, member_count, shard, doc FROM incidents
		 WHERE %s ORDER BY start_ms DESC, id LIMIT %d`, strings.Join(where, " AND "), sinks.PageLimit(q.Limit)), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: select incidents: %w", err)
	}
	defer rows.Close()
	var out []sinks.IncidentRecord
	for rows.Next() {
		var r sinks.IncidentRecord
		var start, first, last int64
		var doc sql.RawBytes
		if err := rows.Scan(&r.ID, &r.Detection, &r.Key, &start, &first, &last, &r.Count, &r.Shard, &doc); err != nil {
			return nil, fmt.Errorf("sqlite: select incidents: %w", err)
		}
		var d incidentDoc
		if err := json.Unmarshal(doc, &d); err != nil {
			return nil, fmt.Errorf("sqlite: decode stored incident %s: %w", r.ID, err)
		}
		r.Start, r.First, r.Last = time.UnixMilli(start).UTC(), time.UnixMilli(first).UTC(), time.UnixMilli(last).UTC()
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
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	latest, ok, err := s.watermark(ctx, keys, shard, beforeOffset)
	if err != nil || !ok {
		return base, err
	}
	var earliest sql.NullInt64
	err = s.r.QueryRowContext(ctx, fmt.Sprintf(
		"SELECT min(first_ms) FROM incidents WHERE shard = ? AND last_ms > ? AND detection IN (%s)", marks(len(detections))),
		append([]any{shard, latest - base.Milliseconds()}, anys(detections)...)...).Scan(&earliest)
	if err != nil {
		return 0, fmt.Errorf("sqlite: incidents to rebuild on shard %d: %w", shard, err)
	}
	if !earliest.Valid {
		return base, nil
	}
	return max(base, time.Duration(latest-earliest.Int64+1)*time.Millisecond), nil
}
