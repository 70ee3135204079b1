package clickhouse

import (
	"context"
	"fmt"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/signindiag/signindiag/sinks"
)

// AddFeedback implements sinks.Annotations. One row through a batch with
// its column list (18.16 hangs on INSERT … VALUES through Exec).
func (s *Store) AddFeedback(ctx context.Context, f sinks.Feedback) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	return s.send(ctx, "feedback", "given_at, given_ms, id, finding_id, signin_id, scenario, helpful, comment, given_by",
		func(b driver.Batch) error {
			return b.Append(f.GivenAt, f.GivenAt.UnixMilli(), f.ID, f.FindingID, f.SignInID, f.Scenario,
				boolByte(f.Helpful), f.Comment, f.GivenBy)
		})
}

// ListFeedback implements sinks.Annotations.
func (s *Store) ListFeedback(ctx context.Context, q sinks.FeedbackQuery) ([]sinks.Feedback, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	limit := sinks.PageLimit(q.Limit)
	where := "1 = 1"
	var args []any
	if !q.Before.IsZero() {
		ms := q.Before.UnixMilli()
		where += " AND (given_ms < ? OR (given_ms = ? AND id < ?))"
		args = append(args, ms, ms, q.BeforeID)
	}
	if q.FindingID != "" {
		where += " AND finding_id = ?"
		args = append(args, q.FindingID)
	}
	rows, err := s.conn.Query(ctx, fmt.Sprintf(
		`SELECT given_ms, id, finding_id, signin_id, scenario, helpful, comment, given_by FROM %s
		 WHERE %s ORDER BY given_ms DESC, id DESC LIMIT 1 BY id LIMIT %d`, s.table("feedback"), where, limit), args...)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: list feedback: %w", err)
	}
	defer rows.Close()
	var out []sinks.Feedback
	for rows.Next() {
		var f sinks.Feedback
		var ms int64
		var helpful uint8
		if err := rows.Scan(&ms, &f.ID, &f.FindingID, &f.SignInID, &f.Scenario, &helpful, &f.Comment, &f.GivenBy); err != nil {
			return nil, fmt.Errorf("clickhouse: list feedback: %w", err)
		}
		f.GivenAt, f.Helpful = time.UnixMilli(ms).UTC(), helpful == 1
		out = append(out, f)
	}
	return out, rows.Err()
}

// Acknowledge implements sinks.Annotations.
func (s *Store) Acknowledge(ctx context.Context, a sinks.Acknowledgement) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	return s.send(ctx, "acknowledgements", "signin_id, acknowledged_at, acknowledged_ms, acknowledged_by, comment",
		func(b driver.Batch) error {
			return b.Append(a.SignInID, a.At, a.At.UnixMilli(), a.By, a.Comment)
		})
}

// Acknowledgements implements sinks.Annotations.
func (s *Store) Acknowledgements(ctx context.Context, signInIDs []string) (map[string]sinks.Acknowledgement, error) {
	out := map[string]sinks.Acknowledgement{}
	if len(signInIDs) == 0 {
		return out, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	ids := make([]any, len(signInIDs))
	for i, id := range signInIDs {
		ids[i] = id
	}
	rows, err := s.conn.Query(ctx, fmt.Sprintf(
		`SELECT signin_id, acknowledged_ms, acknowledged_by, comment FROM %s WHERE signin_id IN ?
		 ORDER BY signin_id, acknowledged_ms DESC LIMIT 1 BY signin_id`, s.table("acknowledgements")),
		ch.GroupSet{Value: ids})
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read acknowledgements: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a sinks.Acknowledgement
		var ms int64
		if err := rows.Scan(&a.SignInID, &ms, &a.By, &a.Comment); err != nil {
			return nil, fmt.Errorf("clickhouse: read acknowledgements: %w", err)
		}
		a.At = time.UnixMilli(ms).UTC()
		out[a.SignInID] = a
	}
	return out, rows.Err()
}
