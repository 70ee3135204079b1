package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

// ListSignIns implements sinks.Lister. The table holds the latest version
// of each sign-in only, so filters see the latest version, as the
// contract wants.
func (s *Store) ListSignIns(ctx context.Context, q sinks.SignInListQuery) ([]schemas.SignIn, error) {
	if q.From.IsZero() || q.To.IsZero() {
		return nil, fmt.Errorf("%w: a sign-in list needs from and to", sinks.ErrInvalidQuery)
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	lo, hi := secondsRange(q.From, q.To)
	where := []string{"created_ms >= ? AND created_ms < ?"}
	args := []any{lo, hi}
	if q.User != "" {
		users, err := s.resolveUser(ctx, q.User)
		if err != nil {
			return nil, err
		}
		where = append(where, fmt.Sprintf("user_h IN (%[1]s) AND user_key IN (%[1]s)", marks(len(users))))
		args = append(append(args, userHashes(users)...), users...)
	}
	if q.App != "" {
		where = append(where, "(lower(app_id) = ? OR lower(app_display_name) = ?)")
		args = append(args, strings.ToLower(q.App), strings.ToLower(q.App))
	}
	if q.IP != "" {
		where = append(where, "ip_address = ?")
		args = append(args, q.IP)
	}
	if q.ErrorCode != nil {
		where = append(where, "error_code = ?")
		args = append(args, *q.ErrorCode)
	}
	if q.AfterMs != 0 || q.AfterID != "" {
		where = append(where, "(created_ms < ? OR (created_ms = ? AND id > ?))")
		args = append(args, q.AfterMs, q.AfterMs, q.AfterID)
	}
	out, err := s.docs(ctx, fmt.Sprintf("SELECT doc FROM signins WHERE %s ORDER BY created_ms DESC, id LIMIT %d",
		strings.Join(where, " AND "), sinks.PageLimit(q.Limit)), args...)
	if err != nil {
		return nil, err
	}
	if err := s.markFlagged(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// isFlagged is whether a finding's sign-in is flagged: it said so when
// stored, or a flag event names it by id, request id or correlation id.
const isFlagged = `(f.flagged = 1
	OR EXISTS (SELECT 1 FROM flags g WHERE g.signin_id = lower(f.signin_id))
	OR EXISTS (SELECT 1 FROM flags g WHERE g.request_id = lower(f.signin_id) AND g.request_id != '')
	OR (f.correlation_id != '' AND EXISTS (SELECT 1 FROM flags g
		WHERE g.correlation_id = lower(f.correlation_id) AND g.correlation_id != '')))`

// ListFindings implements sinks.Lister: findings that occurred in [From,
// To], the latest first (to the second, then by id). The findings table
// has no application: an app filter goes through the finding's sign-in.
func (s *Store) ListFindings(ctx context.Context, q sinks.FindingListQuery) ([]schemas.Finding, error) {
	if q.From.IsZero() || q.To.IsZero() {
		return nil, fmt.Errorf("%w: a finding list needs from and to", sinks.ErrInvalidQuery)
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	where := []string{"f.occurred_s >= ? AND f.occurred_s <= ?"}
	args := []any{q.From.Unix(), q.To.Unix()}
	var users []any
	if q.User != "" {
		var err error
		if users, err = s.resolveUser(ctx, q.User); err != nil {
			return nil, err
		}
		where = append(where, fmt.Sprintf("f.user_key IN (%s)", marks(len(users))))
		args = append(args, users...)
	}
	if q.Scenario != "" {
		where = append(where, "f.scenario = ?")
		args = append(args, q.Scenario)
	}
	if q.Severity != "" {
		where = append(where, "f.severity = ?")
		args = append(args, q.Severity)
	}
	if q.App != "" {
		lo, hi := secondsRange(q.From, q.To)
		sub := "s.id = f.signin_id AND s.created_ms >= ? AND s.created_ms < ? AND (lower(s.app_id) = ? OR lower(s.app_display_name) = ?)"
		args = append(args, lo, hi, strings.ToLower(q.App), strings.ToLower(q.App))
		if users != nil {
			sub += fmt.Sprintf(" AND s.user_key IN (%s)", marks(len(users)))
			args = append(args, users...)
		}
		where = append(where, "EXISTS (SELECT 1 FROM signins s WHERE "+sub+")")
	}
	if q.Flagged != nil {
		where = append(where, isFlagged+" = ?")
		args = append(args, boolInt(*q.Flagged))
	}
	if !q.AfterAt.IsZero() || q.AfterID != "" {
		at := q.AfterAt.Unix()
		where = append(where, "(f.occurred_s < ? OR (f.occurred_s = ? AND f.id > ?))")
		args = append(args, at, at, q.AfterID)
	}
	rows, err := s.r.QueryContext(ctx, fmt.Sprintf(
		"SELECT f.user_key, f.doc, %s FROM findings f WHERE %s ORDER BY f.occurred_s DESC, f.id LIMIT %d",
		isFlagged, strings.Join(where, " AND "), sinks.PageLimit(q.Limit)), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list findings: %w", err)
	}
	defer rows.Close()
	return scanFindings(rows)
}
