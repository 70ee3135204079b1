package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/signindiag/signindiag/sinks"
)

// AddFeedback implements sinks.Annotations. Feedback ids are unique; a
// resubmission of one keeps the latest.
func (s *Store) AddFeedback(ctx context.Context, f sinks.Feedback) error {
	return s.writeOne(ctx, "feedback", `INSERT INTO feedback (id, given_ms, finding_id, signin_id, scenario, helpful, comment, given_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET given_ms = excluded.given_ms, finding_id = excluded.finding_id,
			signin_id = excluded.signin_id, scenario = excluded.scenario, helpful = excluded.helpful,
			comment = excluded.comment, given_by = excluded.given_by
		WHERE excluded.given_ms >= feedback.given_ms`,
		f.ID, f.GivenAt.UnixMilli(), f.FindingID, f.SignInID, f.Scenario, boolInt(f.Helpful), f.Comment, f.GivenBy)
}

// ListFeedback implements sinks.Annotations.
func (s *Store) ListFeedback(ctx context.Context, q sinks.FeedbackQuery) ([]sinks.Feedback, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
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
	rows, err := s.r.QueryContext(ctx, fmt.Sprintf(
		`SELECT given_ms, id, finding_id, signin_id, scenario, helpful, comment, given_by FROM feedback
		 WHERE %s ORDER BY given_ms DESC, id DESC LIMIT %d`, where, sinks.PageLimit(q.Limit)), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list feedback: %w", err)
	}
	defer rows.Close()
	var out []sinks.Feedback
	for rows.Next() {
		var f sinks.Feedback
		var ms int64
		var helpful int
		if err := rows.Scan(&ms, &f.ID, &f.FindingID, &f.SignInID, &f.Scenario, &helpful, &f.Comment, &f.GivenBy); err != nil {
			return nil, fmt.Errorf("sqlite: list feedback: %w", err)
		}
		f.GivenAt, f.Helpful = time.UnixMilli(ms).UTC(), helpful == 1
		out = append(out, f)
	}
	return out, rows.Err()
}

// Acknowledge implements sinks.Annotations: the latest acknowledgement of
// a sign-in is kept.
func (s *Store) Acknowledge(ctx context.Context, a sinks.Acknowledgement) error {
	return s.writeOne(ctx, "acknowledgements", `INSERT INTO acknowledgements (signin_id, acknowledged_ms, acknowledged_by, comment)
		VALUES (?, ?, ?, ?)
		ON CONFLICT (signin_id) DO UPDATE SET acknowledged_ms = excluded.acknowledged_ms,
			acknowledged_by = excluded.acknowledged_by, comment = excluded.comment
		WHERE excluded.acknowledged_ms >= acknowledgements.acknowledged_ms`,
		a.SignInID, a.At.UnixMilli(), a.By, a.Comment)
}

// Acknowledgements implements sinks.Annotations.
func (s *Store) Acknowledgements(ctx context.Context, signInIDs []string) (map[string]sinks.Acknowledgement, error) {
	out := map[string]sinks.Acknowledgement{}
	if len(signInIDs) == 0 {
		return out, nil
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	rows, err := s.r.QueryContext(ctx, fmt.Sprintf(
		"SELECT signin_id, acknowledged_ms, acknowledged_by, comment FROM acknowledgements WHERE signin_id IN (%s)",
		marks(len(signInIDs))), anys(signInIDs)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read acknowledgements: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a sinks.Acknowledgement
		var ms int64
		if err := rows.Scan(&a.SignInID, &ms, &a.By, &a.Comment); err != nil {
			return nil, fmt.Errorf("sqlite: read acknowledgements: %w", err)
		}
		a.At = time.UnixMilli(ms).UTC()
		out[a.SignInID] = a
	}
	return out, rows.Err()
}

// writeOne runs one statement on the writer (its own transaction).
func (s *Store) writeOne(ctx context.Context, table, stmt string, args ...any) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	s.mu.Lock()
	if _, err := s.w.ExecContext(ctx, stmt, args...); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("sqlite: insert into %s: %w", table, classify(err))
	}
	seq := s.wal.commit()
	s.mu.Unlock()
	return s.wal.durable(ctx, seq)
}
