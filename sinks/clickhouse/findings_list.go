package clickhouse

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

// ListFindings implements sinks.Lister. The latest version of each finding
// in the range is chosen first, then filtered. The findings table has no
// application column: an app filter goes through the sign-ins of the same
// range (narrow columns). A finding is flagged when its sign-in said so
// when it was stored, or when a flag event names the sign-in (by id,
// request id or correlation id); flags are few, so they are read whole.
func (s *Store) ListFindings(ctx context.Context, q sinks.FindingListQuery) ([]schemas.Finding, error) {
	if q.From.IsZero() || q.To.IsZero() {
		return nil, fmt.Errorf("%w: a finding list needs from and to", sinks.ErrInvalidQuery)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	limit := sinks.PageLimit(q.Limit)
	from := q.From.Truncate(time.Second)
	flags := s.table("flags")
	// Kept in the SELECT under a fresh name: 18.16 applies aliases to
	// the whole query.
	flagged := fmt.Sprintf(`(position(doc, '"flagged":true') > 0
		OR lower(signin_id) IN (SELECT signin_id FROM %s WHERE signin_id != '')
		OR lower(signin_id) IN (SELECT request_id FROM %s WHERE request_id != '')
		OR (correlation_id != '' AND lower(correlation_id) IN (SELECT correlation_id FROM %s WHERE correlation_id != '')))`,
		flags, flags, flags)
	var args []any
	inner := "occurred_at >= ? AND occurred_at <= ?"
	args = append(args, from, q.To)
	var users []any
	if q.User != "" {
		var err error
		if users, err = s.usersOf(ctx, q.User, q.From, q.To); err != nil {
			return nil, err
		}
		inner += " AND user_key IN ?"
		args = append(args, ch.GroupSet{Value: users})
	}
	if q.Scenario != "" {
		inner += " AND scenario = ?"
		args = append(args, q.Scenario)
	}
	if q.Severity != "" {
		inner += " AND severity = ?"
		args = append(args, q.Severity)
	}
	outer := []string{"1 = 1"}
	if q.App != "" {
		// Findings of windowed detections occur at their sign-in's time,
		// so the sign-ins of the same range hold them.
		sub := "created_at >= ? AND created_at <= ? AND (lower(app_id) = ? OR lower(app_display_name) = ?)"
		subArgs := []any{from, q.To, strings.ToLower(q.App), strings.ToLower(q.App)}
		if users != nil {
			sub += " AND user_key IN ?"
			subArgs = append(subArgs, ch.GroupSet{Value: users})
		}
		outer = append(outer, fmt.Sprintf("signin_id IN (SELECT id FROM %s WHERE %s)", s.table("signins"), sub))
		args = append(args, subArgs...)
	}
	if q.Flagged != nil {
		if *q.Flagged {
			outer = append(outer, "is_flagged = 1")
		} else {
			outer = append(outer, "is_flagged = 0")
		}
	}
	if !q.AfterAt.IsZero() || q.AfterID != "" {
		at := q.AfterAt.Truncate(time.Second)
		outer = append(outer, "(occurred_at < ? OR (occurred_at = ? AND id > ?))")
		args = append(args, at, at, q.AfterID)
	}
	rows, err := s.conn.Query(ctx, fmt.Sprintf(
		`SELECT user_key, doc, is_flagged FROM (
		   SELECT user_key, occurred_at, id, signin_id, correlation_id, doc, %s AS is_flagged FROM (
		     SELECT user_key, occurred_at, id, signin_id, correlation_id, doc FROM %s WHERE %s
		     ORDER BY id, occurred_at DESC, version DESC LIMIT 1 BY id))
		 WHERE %s ORDER BY occurred_at DESC, id LIMIT %d`,
		flagged, s.table("findings"), inner, strings.Join(outer, " AND "), limit), args...)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: list findings: %w", err)
	}
	defer rows.Close()
	var out []schemas.Finding
	for rows.Next() {
		var userKey, doc string
		var isFlagged uint8
		if err := rows.Scan(&userKey, &doc, &isFlagged); err != nil {
			return nil, fmt.Errorf("clickhouse: list findings: %w", err)
		}
		var f schemas.Finding
		if err := json.Unmarshal([]byte(doc), &f); err != nil {
			return nil, fmt.Errorf("clickhouse: decode stored finding: %w", err)
		}
		f.UserKey = userKey
		f.Flagged = f.Flagged || isFlagged == 1
		out = append(out, f)
	}
	return out, rows.Err()
}
