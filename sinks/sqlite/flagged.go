package sqlite

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

// flagTarget is what a flag points at, with the latest flag naming it.
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

// latestFlags selects the flags after the cursor in page order whose
// target no later flag names (a target is listed once, under its latest
// flag): flags_target finds a target's later flags.
const latestFlags = `SELECT signin_id, correlation_id, request_id, flagged_ms, id, flagged_by FROM flags f
WHERE (flagged_ms < ? OR (flagged_ms = ? AND id < ?))
  AND NOT EXISTS (SELECT 1 FROM flags g
    WHERE g.signin_id = f.signin_id AND g.correlation_id = f.correlation_id AND g.request_id = f.request_id
      AND (g.flagged_ms > f.flagged_ms OR (g.flagged_ms = f.flagged_ms AND g.id > f.id)))
ORDER BY flagged_ms DESC, id DESC LIMIT ?`

// Flagged implements sinks.Reader: a page of targets in flag order, then
// their sign-ins, each listed once under the latest flag naming it.
func (s *Store) Flagged(ctx context.Context, q sinks.FlaggedQuery) ([]sinks.FlaggedSignIn, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	limit := pageLimit(q.Limit)
	before := q.Before
	if before.IsZero() {
		before = time.Now().Add(time.Hour) // as the ClickHouse store: a little clock skew is still "now"
	}
	ms := before.UnixMilli()
	rows, err := s.r.QueryContext(ctx, latestFlags, ms, ms, q.BeforeID, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read flags: %w", err)
	}
	var targets []flagTarget
	for rows.Next() {
		var t flagTarget
		var at int64
		if err := rows.Scan(&t.signInID, &t.correlationID, &t.requestID, &at, &t.id, &t.by); err != nil {
			_ = rows.Close() // the scan error is the one to report
			return nil, fmt.Errorf("sqlite: read flags: %w", err)
		}
		t.at = time.UnixMilli(at).UTC()
		targets = append(targets, t)
	}
	_ = rows.Close() // rows.Err reports what went wrong while reading
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: read flags: %w", err)
	}
	var ids, corrs, corrHashes []any
	seen := map[string]bool{}
	for _, t := range targets {
		for _, k := range []string{t.signInID, t.requestID} {
			if k != "" && !seen["i"+k] {
				seen["i"+k] = true
				ids = append(ids, k)
			}
		}
		if k := t.correlationID; k != "" && !seen["c"+k] {
			seen["c"+k] = true
			corrs = append(corrs, k)
			corrHashes = append(corrHashes, hashKey(k))
		}
	}
	if len(ids)+len(corrs) == 0 {
		return nil, nil
	}
	// A flag by correlation id may name several sign-ins (every step of an
	// attempt): read more than a page, then cut after ordering.
	signIns, err := s.docs(ctx, fmt.Sprintf(
		"SELECT doc FROM signins WHERE id IN (%s) OR (correlation_h IN (%[2]s) AND correlation_id IN (%[2]s)) %[3]s LIMIT %[4]d",
		marks(len(ids)), marks(len(corrs)), signInOrder, 4*limit), append(append(ids, corrHashes...), corrs...)...)
	if err != nil {
		return nil, err
	}
	return cutPage(listUnderLatestFlag(signIns, targets), limit), nil
}

// listUnderLatestFlag pairs each sign-in with the latest of the targets
// naming it, in page order.
func listUnderLatestFlag(signIns []schemas.SignIn, targets []flagTarget) []sinks.FlaggedSignIn {
	var out []sinks.FlaggedSignIn
	for _, si := range signIns {
		id, corr := strings.ToLower(si.ID), strings.ToLower(si.CorrelationID)
		var best *flagTarget
		for i := range targets {
			t := &targets[i]
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
	return out
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
