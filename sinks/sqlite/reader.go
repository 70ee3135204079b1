package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/schemas/wire"
	"github.com/signindiag/signindiag/sinks"
	"github.com/signindiag/signindiag/sinks/flagjoin"
)

// signInOrder is the order of sign-in results: newest first, then by id.
const signInOrder = "ORDER BY created_ms DESC, id, category"

// SignIns implements sinks.Reader.
func (s *Store) SignIns(ctx context.Context, q sinks.SignInQuery) ([]schemas.SignIn, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	limit := sinks.PageLimit(q.Limit)
	var where string
	var args []any
	switch {
	case q.CorrelationID != "":
		where, args = "correlation_h = ? AND correlation_id = ?", []any{correlationHash(q.CorrelationID), q.CorrelationID}
	case q.RequestID != "":
		where, args = "id = ?", []any{q.RequestID}
	case q.User != "":
		users, err := s.resolveUser(ctx, q.User)
		if err != nil {
			return nil, err
		}
		lo, hi := secondsRange(q.From, q.To)
		where = fmt.Sprintf("user_h IN (%[1]s) AND user_key IN (%[1]s) AND created_ms >= ? AND created_ms < ?", marks(len(users)))
		args = append(append(userHashes(users), users...), lo, hi)
		if q.App != "" {
			where += " AND (lower(app_id) = ? OR lower(app_display_name) = ?)"
			args = append(args, strings.ToLower(q.App), strings.ToLower(q.App))
		}
	default:
		return nil, fmt.Errorf("%w: a correlationId, requestId or user is required", sinks.ErrInvalidQuery)
	}
	out, err := s.docs(ctx, fmt.Sprintf("SELECT doc FROM signins WHERE %s %s LIMIT %d", where, signInOrder, limit), args...)
	if err != nil {
		return nil, err
	}
	if err := s.markFlagged(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// secondsRange turns [from, to] into a range of created_ms, as the
// ClickHouse store compares them (its created_at holds whole seconds):
// from the second holding from to the end of the second holding to. A
// zero bound is open.
func secondsRange(from, to time.Time) (lo, hi int64) {
	lo, hi = minMs, maxMs
	if !from.IsZero() {
		lo = from.Truncate(time.Second).UnixMilli()
	}
	if !to.IsZero() {
		hi = to.Truncate(time.Second).Add(time.Second).UnixMilli()
	}
	return lo, hi
}

// The open bounds of a range of Unix milliseconds.
const (
	minMs = int64(-1) << 62
	maxMs = int64(1) << 62
)

// docs runs a query of sign-in documents and decodes them, in order. The
// documents are decoded once the rows are closed: one may need its
// dictionary read, and the read pool's connections are not to be waited
// for while holding one.
func (s *Store) docs(ctx context.Context, query string, args ...any) ([]schemas.SignIn, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: select sign-ins: %w", err)
	}
	defer rows.Close()
	var docs [][]byte
	for rows.Next() {
		var doc []byte
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("sqlite: select sign-ins: %w", err)
		}
		docs = append(docs, doc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: select sign-ins: %w", err)
	}
	_ = rows.Close() // rows.Err reported what went wrong
	out := make([]schemas.SignIn, 0, len(docs))
	for _, doc := range docs {
		si, err := s.decodeSignInDoc(ctx, doc)
		if err != nil {
			return nil, fmt.Errorf("sqlite: decode stored sign-in: %w", err)
		}
		out = append(out, *si)
	}
	return out, nil
}

// decodeSignInDoc reads a stored document: the wire encoding (what the
// pipeline writes), compressed (appendDoc) or not, or JSON (what
// another tool may have stored).
func (s *Store) decodeSignInDoc(ctx context.Context, doc []byte) (*schemas.SignIn, error) {
	plain, err := s.plainDoc(ctx, doc)
	if err != nil {
		return nil, err
	}
	return wire.DecodeSignInDocument(plain)
}

// resolveUser maps a UPN or object id to the user keys it may stand for:
// itself (an object id, or the UPN of a sign-in without one) and the keys
// of the sign-ins that carried it as their UPN.
func (s *Store) resolveUser(ctx context.Context, user string) ([]any, error) {
	user = strings.ToLower(user)
	users := []any{user}
	rows, err := s.r.QueryContext(ctx, "SELECT user_key FROM user_upns WHERE upn = ? LIMIT 100", user)
	if err != nil {
		return nil, fmt.Errorf("sqlite: resolve user: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("sqlite: resolve user: %w", err)
		}
		if k != user {
			users = append(users, k)
		}
	}
	return users, rows.Err()
}

// markFlagged sets FlaggedForReview on the sign-ins a flag event names, by
// their id (as sign-in id or request id) or their correlation id.
func (s *Store) markFlagged(ctx context.Context, signIns []schemas.SignIn) error {
	return flagjoin.Mark(ctx, flagReads{s}, signIns)
}

// Findings implements sinks.Reader: the findings of the given sign-ins
// (by id, of their users, within their time span), flagged when their
// sign-in is.
func (s *Store) Findings(ctx context.Context, signIns []schemas.SignIn) ([]schemas.Finding, error) {
	if len(signIns) == 0 {
		return nil, nil
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var users, ids []any
	flagged := map[string]bool{}
	seen := map[string]bool{}
	lo, hi := signIns[0].CreatedDateTime, signIns[0].CreatedDateTime
	for _, si := range signIns {
		if k := si.UserKey(); !seen["u"+k] {
			seen["u"+k] = true
			users = append(users, k)
		}
		if !seen["i"+si.ID] {
			seen["i"+si.ID] = true
			ids = append(ids, si.ID)
		}
		flagged[si.ID] = flagged[si.ID] || si.FlaggedForReview
		if si.CreatedDateTime.Before(lo) {
			lo = si.CreatedDateTime
		}
		if si.CreatedDateTime.After(hi) {
			hi = si.CreatedDateTime
		}
	}
	args := append(append(ids, users...), lo.Unix(), hi.Unix())
	rows, err := s.r.QueryContext(ctx, fmt.Sprintf(
		`SELECT user_key, doc FROM findings WHERE signin_id IN (%s) AND user_key IN (%s) AND occurred_s >= ? AND occurred_s <= ?
		 LIMIT %d`, marks(len(ids)), marks(len(users)), sinks.MaxRows), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: select findings: %w", err)
	}
	defer rows.Close()
	out, err := scanFindings(rows)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Flagged = out[i].Flagged || flagged[out[i].SignInID]
	}
	sinks.SortFindings(out)
	return out, nil
}

// scanFindings reads rows of (user_key, doc[, is_flagged]).
func scanFindings(rows *sql.Rows) ([]schemas.Finding, error) {
	cols, err := rows.Columns()
	if err != nil {
		return nil, fmt.Errorf("sqlite: select findings: %w", err)
	}
	var out []schemas.Finding
	for rows.Next() {
		var userKey string
		var doc sql.RawBytes
		var isFlagged int
		dest := []any{&userKey, &doc}
		if len(cols) > 2 {
			dest = append(dest, &isFlagged)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("sqlite: select findings: %w", err)
		}
		var f schemas.Finding
		if err := json.Unmarshal(doc, &f); err != nil {
			return nil, fmt.Errorf("sqlite: decode stored finding: %w", err)
		}
		f.UserKey = userKey
		f.Flagged = f.Flagged || isFlagged == 1
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: select findings: %w", err)
	}
	return out, nil
}

// FailureCount implements sinks.Reader: the user's distinct failed
// sign-ins in (from, to], to the millisecond, as the live windows count.
func (s *Store) FailureCount(ctx context.Context, user string, from, to time.Time) (int, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	users, err := s.resolveUser(ctx, user)
	if err != nil {
		return 0, err
	}
	var n int
	err = s.r.QueryRowContext(ctx, fmt.Sprintf(
		`SELECT COUNT(DISTINCT id) FROM signins WHERE user_h IN (%[1]s) AND user_key IN (%[1]s)
		 AND created_ms > ? AND created_ms <= ? AND is_failure = 1`,
		marks(len(users))), append(append(userHashes(users), users...), from.UnixMilli(), to.UnixMilli())...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: count failures: %w", err)
	}
	return n, nil
}

// marks is n comma-separated placeholders.
func marks(n int) string {
	if n <= 0 {
		return "NULL"
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// anys converts strings to query arguments.
func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, v := range ss {
		out[i] = v
	}
	return out
}
