package clickhouse

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

// flagTarget is what one or more flags point at, with the latest flag.
type flagTarget struct {
	signInID, correlationID, requestID string
	at                                 time.Time
	id, by                             string
}

// after reports whether t comes after u in page order: flagged later, or
// at the same time with a greater flag id.
func (t *flagTarget) after(u *flagTarget) bool {
	if !t.at.Equal(u.at) {
		return t.at.After(u.at)
	}
	return t.id > u.id
}

// Flagged implements sinks.Reader. Flags are few next to sign-ins, so the
// page of flags is read first and resolved to sign-ins through signin_keys.
func (s *Store) Flagged(ctx context.Context, q sinks.FlaggedQuery) ([]sinks.FlaggedSignIn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	limit := q.Limit
	if limit <= 0 || limit > maxRows {
		limit = maxRows
	}
	before := q.Before
	if before.IsZero() {
		before = time.Now().Add(time.Hour)
	}
	// Each target's latest flag (by time, then id) is its place in the
	// order; the cursor is compared without tuples, which 18.16 lacks.
	rows, err := s.conn.Query(ctx, fmt.Sprintf(
		`SELECT signin_id, correlation_id, request_id, flagged_at, id, flagged_by FROM (
		   SELECT signin_id, correlation_id, request_id, flagged_at, id, flagged_by FROM %s
		   ORDER BY flagged_at DESC, id DESC LIMIT 1 BY signin_id, correlation_id, request_id)
		 WHERE (flagged_at < ?) OR (flagged_at = ? AND id < ?)
		 ORDER BY flagged_at DESC, id DESC LIMIT %d`, s.table("flags"), limit), before, before, q.BeforeID)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read flags: %w", err)
	}
	var targets []flagTarget
	var requestKeys, correlationKeys []any
	for rows.Next() {
		var t flagTarget
		if err := rows.Scan(&t.signInID, &t.correlationID, &t.requestID, &t.at, &t.id, &t.by); err != nil {
			_ = rows.Close() // the scan error is the one to report
			return nil, fmt.Errorf("clickhouse: read flags: %w", err)
		}
		targets = append(targets, t)
		for _, k := range []string{t.signInID, t.requestID} {
			if k != "" {
				requestKeys = append(requestKeys, k)
			}
		}
		if t.correlationID != "" {
			correlationKeys = append(correlationKeys, t.correlationID)
		}
	}
	_ = rows.Close() // rows.Err reports what went wrong while reading
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: read flags: %w", err)
	}
	// A flag by correlation id may name several sign-ins (every step of an
	// attempt): read more than a page, then cut after ordering.
	signIns, err := s.signInsByKeys(ctx, requestKeys, correlationKeys, 4*limit)
	if err != nil {
		return nil, err
	}
	// Each sign-in is listed once, under the latest flag naming it.
	var out []sinks.FlaggedSignIn
	for _, si := range signIns {
		var best *flagTarget
		for i := range targets {
			t := &targets[i]
			id, corr := strings.ToLower(si.ID), strings.ToLower(si.CorrelationID)
			if (t.signInID != "" && t.signInID == id) || (t.requestID != "" && t.requestID == id) ||
				(t.correlationID != "" && t.correlationID == corr) {
				if best == nil || t.after(best) {
					best = t
				}
			}
		}
		if best == nil {
			continue
		}
		si.FlaggedForReview = true
		out = append(out, sinks.FlaggedSignIn{SignIn: si, FlaggedAt: best.at, FlaggedBy: best.by, FlagID: best.id})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].FlaggedAt.Equal(out[j].FlaggedAt) {
			return out[i].FlaggedAt.After(out[j].FlaggedAt)
		}
		if out[i].FlagID != out[j].FlagID {
			return out[i].FlagID > out[j].FlagID
		}
		return out[i].SignIn.CreatedDateTime.After(out[j].SignIn.CreatedDateTime)
	})
	return cutPage(out, limit), nil
}

// cutPage keeps limit sign-ins, and more rather than split the sign-ins
// of one flag (a flag by correlation id may name several): the next page
// starts after the last flag listed, so a split flag would lose the rest.
func cutPage(out []sinks.FlaggedSignIn, limit int) []sinks.FlaggedSignIn {
	end := min(limit, len(out))
	for end > 0 && end < len(out) && out[end].FlagID == out[end-1].FlagID && out[end].FlaggedAt.Equal(out[end-1].FlaggedAt) {
		end++
	}
	return out[:end]
}

// signInsByKeys resolves request ids and correlation ids (lower-cased, as
// signin_keys holds them) to the latest versions of their sign-ins: keys
// first, so the sign-in read touches only the granules of those users and
// times.
func (s *Store) signInsByKeys(ctx context.Context, requestKeys, correlationKeys []any, limit int) ([]schemas.SignIn, error) {
	var conds []string
	var args []any
	if len(requestKeys) > 0 {
		conds = append(conds, "(kind = ? AND key IN ?)")
		args = append(args, keyRequest, ch.GroupSet{Value: requestKeys})
	}
	if len(correlationKeys) > 0 {
		conds = append(conds, "(kind = ? AND key IN ?)")
		args = append(args, keyCorrelation, ch.GroupSet{Value: correlationKeys})
	}
	if len(conds) == 0 {
		return nil, nil
	}
	rows, err := s.conn.Query(ctx, fmt.Sprintf(
		"SELECT DISTINCT user_key, created_at, signin_id FROM %s WHERE %s LIMIT %d",
		s.table("signin_keys"), strings.Join(conds, " OR "), limit), args...)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: resolve flagged sign-ins: %w", err)
	}
	defer rows.Close()
	var users, ids []any
	var lo, hi time.Time
	for rows.Next() {
		var userKey, id string
		var at time.Time
		if err := rows.Scan(&userKey, &at, &id); err != nil {
			return nil, fmt.Errorf("clickhouse: resolve flagged sign-ins: %w", err)
		}
		users, ids = append(users, userKey), append(ids, id)
		if lo.IsZero() || at.Before(lo) {
			lo = at
		}
		if at.After(hi) {
			hi = at
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: resolve flagged sign-ins: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return s.selectSignIns(ctx, latestSignIns(s.table("signins"), "user_key IN ? AND created_at >= ? AND created_at <= ? AND id IN ?", limit),
		ch.GroupSet{Value: users}, lo, hi.Add(reemitSlack), ch.GroupSet{Value: ids})
}
