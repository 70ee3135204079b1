package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
	"github.com/signindiag/signindiag/sinks/flagjoin"
)

// latestFlags selects the flags after the cursor in page order whose
// target no later flag names (a target is listed once, under its latest
// flag): flags_target finds a target's later flags.
const latestFlags = `SELECT signin_id, correlation_id, request_id, flagged_ms, id, flagged_by FROM flags f
WHERE (flagged_ms < ? OR (flagged_ms = ? AND id < ?))
  AND NOT EXISTS (SELECT 1 FROM flags g
    WHERE g.signin_id = f.signin_id AND g.correlation_id = f.correlation_id AND g.request_id = f.request_id
      AND (g.flagged_ms > f.flagged_ms OR (g.flagged_ms = f.flagged_ms AND g.id > f.id)))
ORDER BY flagged_ms DESC, id DESC LIMIT ?`

// Flagged implements sinks.Reader (flagjoin has the semantics).
func (s *Store) Flagged(ctx context.Context, q sinks.FlaggedQuery) ([]sinks.FlaggedSignIn, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	return flagjoin.Page(ctx, flagReads{s}, q, sinks.PageLimit(q.Limit))
}

// flagReads are the flagged queue's reads (flagjoin.Backend).
type flagReads struct{ s *Store }

func (f flagReads) Targets(ctx context.Context, before time.Time, beforeID string, limit int) ([]flagjoin.Target, error) {
	ms := before.UnixMilli()
	rows, err := f.s.r.QueryContext(ctx, latestFlags, ms, ms, beforeID, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read flags: %w", err)
	}
	var targets []flagjoin.Target
	for rows.Next() {
		var t flagjoin.Target
		var at int64
		if err := rows.Scan(&t.SignInID, &t.CorrelationID, &t.RequestID, &at, &t.ID, &t.By); err != nil {
			_ = rows.Close() // the scan error is the one to report
			return nil, fmt.Errorf("sqlite: read flags: %w", err)
		}
		t.At = time.UnixMilli(at).UTC()
		targets = append(targets, t)
	}
	_ = rows.Close() // rows.Err reports what went wrong while reading
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: read flags: %w", err)
	}
	return targets, nil
}

func (f flagReads) SignInsNamed(ctx context.Context, targets []flagjoin.Target, limit int) ([]schemas.SignIn, error) {
	var ids, corrs, corrHashes []any
	seen := map[string]bool{}
	for _, t := range targets {
		for _, k := range []string{t.SignInID, t.RequestID} {
			if k != "" && !seen["i"+k] {
				seen["i"+k] = true
				ids = append(ids, k)
			}
		}
		if k := t.CorrelationID; k != "" && !seen["c"+k] {
			seen["c"+k] = true
			corrs = append(corrs, k)
			corrHashes = append(corrHashes, hashKey(k))
		}
	}
	if len(ids)+len(corrs) == 0 {
		return nil, nil
	}
	return f.s.docs(ctx, fmt.Sprintf(
		"SELECT doc FROM signins WHERE id IN (%s) OR (correlation_h IN (%[2]s) AND correlation_id IN (%[2]s)) %[3]s LIMIT %[4]d",
		marks(len(ids)), marks(len(corrs)), signInOrder, limit), append(append(ids, corrHashes...), corrs...)...)
}

// FlagsNaming reads the flags by each kind of key; the partial indexes on
// request_id and correlation_id need their != ” spelled out to be used.
func (f flagReads) FlagsNaming(ctx context.Context, signIns []schemas.SignIn) ([]flagjoin.Target, error) {
	keys := flagjoin.Keys(signIns)
	if len(keys) == 0 {
		return nil, nil
	}
	args := make([]any, 0, 3*len(keys))
	for range 3 {
		for _, k := range keys {
			args = append(args, k)
		}
	}
	in := marks(len(keys))
	rows, err := f.s.r.QueryContext(ctx, fmt.Sprintf(`SELECT signin_id, correlation_id, request_id, flagged_ms, id FROM flags
		WHERE signin_id IN (%[1]s) OR (request_id IN (%[1]s) AND request_id != '')
		   OR (correlation_id IN (%[1]s) AND correlation_id != '')`, in), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read flags by key: %w", err)
	}
	defer rows.Close()
	var out []flagjoin.Target
	for rows.Next() {
		var t flagjoin.Target
		var at int64
		if err := rows.Scan(&t.SignInID, &t.CorrelationID, &t.RequestID, &at, &t.ID); err != nil {
			return nil, fmt.Errorf("sqlite: read flags by key: %w", err)
		}
		t.At = time.UnixMilli(at).UTC()
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: read flags by key: %w", err)
	}
	return out, nil
}
