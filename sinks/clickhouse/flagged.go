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

// Flagged implements sinks.Reader. Flags are read in page order from
// flag_times, one time slice after the other (18.16 cannot stop reading at
// a LIMIT), until the slices hold a page of targets whose latest flag they
// are; flag_keys tells which targets were flagged again later. Sign-ins
// are then resolved through signin_lookup.
func (s *Store) Flagged(ctx context.Context, q sinks.FlaggedQuery) ([]sinks.FlaggedSignIn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	limit := pageLimit(q.Limit)
	before := q.Before
	if before.IsZero() {
		before = time.Now().Add(time.Hour)
	}
	// Flags that name no stored sign-in (yet: a flag may come first) make
	// no item: read on past them until the page is full or the flags end,
	// so a short page always means the end of the queue.
	var out []sinks.FlaggedSignIn
	listed := map[string]bool{} // sign-ins already listed under a later flag
	beforeID := q.BeforeID
	for round := 0; len(out) < limit && round < maxFlagRounds; round++ {
		targets, err := s.flagPage(ctx, before, beforeID, limit)
		if err != nil {
			return nil, err
		}
		found, err := s.flaggedSignIns(ctx, targets, limit)
		if err != nil {
			return nil, err
		}
		for _, f := range found {
			if k := f.SignIn.Identity(); !listed[k] {
				listed[k] = true
				out = append(out, f)
			}
		}
		if len(targets) < limit {
			break
		}
		last := targets[len(targets)-1]
		before, beforeID = last.at, last.id
	}
	return cutPage(out, limit), nil
}

// maxFlagRounds bounds the pages of flags one request reads past flags
// that name no stored sign-in.
const maxFlagRounds = 20

// flaggedSignIns resolves a page of targets to their sign-ins, in page
// order, each under the latest flag naming it.
func (s *Store) flaggedSignIns(ctx context.Context, targets []flagTarget, limit int) ([]sinks.FlaggedSignIn, error) {
	// Each key once: 18.16's index analysis of IN costs per key and range.
	var requestKeys, correlationKeys []any
	seen := map[string]bool{}
	for _, t := range targets {
		for _, k := range []string{t.signInID, t.requestID} {
			if k != "" && !seen["r"+k] {
				seen["r"+k] = true
				requestKeys = append(requestKeys, k)
			}
		}
		if k := t.correlationID; k != "" && !seen["c"+k] {
			seen["c"+k] = true
			correlationKeys = append(correlationKeys, k)
		}
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
	return out, nil
}

// flagSlices are how far before the cursor each read of flag_times
// looks, widened each time a read comes back short; past the last, reads
// are unbounded.
var flagSlices = []time.Duration{6 * time.Hour, 24 * time.Hour, 4 * 24 * time.Hour, 16 * 24 * time.Hour, 64 * 24 * time.Hour}

// flagPage returns up to limit targets after the cursor in page order,
// each under its latest flag.
func (s *Store) flagPage(ctx context.Context, before time.Time, beforeID string, limit int) ([]flagTarget, error) {
	var out []flagTarget
	seen := map[[3]string]bool{}
	read := 2 * limit // flags per read: spares for the targets flagged again
	for span := 0; len(out) < limit; {
		where := "((flagged_at < ?) OR (flagged_at = ? AND id < ?))"
		args := []any{before, before, beforeID}
		bounded := span < len(flagSlices)
		if bounded {
			where += " AND flagged_at >= ?"
			args = append(args, before.Add(-flagSlices[span]).Truncate(time.Second))
		}
		rows, err := s.conn.Query(ctx, fmt.Sprintf(
			`SELECT signin_id, correlation_id, request_id, flagged_at, id, flagged_by FROM %s WHERE %s
			 ORDER BY flagged_at DESC, id DESC LIMIT 1 BY signin_id, correlation_id, request_id LIMIT %d`,
			s.table("flag_times"), where, read), args...)
		if err != nil {
			return nil, fmt.Errorf("clickhouse: read flags: %w", err)
		}
		var batch []flagTarget
		n := 0
		for rows.Next() {
			var t flagTarget
			if err := rows.Scan(&t.signInID, &t.correlationID, &t.requestID, &t.at, &t.id, &t.by); err != nil {
				_ = rows.Close() // the scan error is the one to report
				return nil, fmt.Errorf("clickhouse: read flags: %w", err)
			}
			n++
			before, beforeID = t.at, t.id
			if k := t.key(); !seen[k] {
				seen[k] = true
				batch = append(batch, t)
			}
		}
		_ = rows.Close() // rows.Err reports what went wrong while reading
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("clickhouse: read flags: %w", err)
		}
		live, err := s.notFlaggedAgain(ctx, batch)
		if err != nil {
			return nil, err
		}
		out = append(out, live...)
		if n < read { // this span is exhausted: look further back
			if !bounded {
				break
			}
			span++
		}
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (t *flagTarget) key() [3]string { return [3]string{t.signInID, t.correlationID, t.requestID} }

// notFlaggedAgain drops the targets that a later flag names (they are
// listed under that one), keeping the order.
func (s *Store) notFlaggedAgain(ctx context.Context, targets []flagTarget) ([]flagTarget, error) {
	if len(targets) == 0 {
		return nil, nil
	}
	var keys []any
	oldest := targets[0].at
	for _, t := range targets {
		for _, k := range t.key() {
			if k != "" {
				keys = append(keys, k)
			}
		}
		if t.at.Before(oldest) {
			oldest = t.at
		}
	}
	rows, err := s.conn.Query(ctx, fmt.Sprintf(
		"SELECT signin_id, correlation_id, request_id, flagged_at, id FROM %s WHERE key IN ? AND flagged_at >= ?", s.table("flag_keys")),
		ch.GroupSet{Value: keys}, oldest)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read later flags: %w", err)
	}
	defer rows.Close()
	latest := map[[3]string]flagTarget{}
	for rows.Next() {
		var t flagTarget
		if err := rows.Scan(&t.signInID, &t.correlationID, &t.requestID, &t.at, &t.id); err != nil {
			return nil, fmt.Errorf("clickhouse: read later flags: %w", err)
		}
		if l, ok := latest[t.key()]; !ok || t.after(&l) {
			latest[t.key()] = t
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: read later flags: %w", err)
	}
	var out []flagTarget
	for _, t := range targets {
		if l, ok := latest[t.key()]; ok && l.after(&t) {
			continue
		}
		out = append(out, t)
	}
	return out, nil
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
// signin_lookup holds them) to the latest versions of their sign-ins: the
// keys first (a few small granules each), then the documents of those
// primary-key ranges of signin_docs alone.
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
		s.table("signin_lookup"), strings.Join(conds, " OR "), 2*limit), args...)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: resolve sign-in keys: %w", err)
	}
	defer rows.Close()
	var refs []docRef
	for rows.Next() {
		var r docRef
		if err := rows.Scan(&r.userKey, &r.from, &r.id); err != nil {
			return nil, fmt.Errorf("clickhouse: resolve sign-in keys: %w", err)
		}
		r.to = r.from.Add(reemitSlack)
		refs = append(refs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: resolve sign-in keys: %w", err)
	}
	if len(refs) == 0 {
		return nil, nil
	}
	return s.latestDocs(ctx, refs, limit)
}

// latestDocs reads the versions stored in the refs' ranges and returns the
// latest of each sign-in, newest first.
func (s *Store) latestDocs(ctx context.Context, refs []docRef, limit int) ([]schemas.SignIn, error) {
	// Sign-ins of one user within minutes (the steps of one attempt) share
	// a range; farther apart, the rows between are other sign-ins.
	query, args := refRanges("user_key, category, id, created_at, created_ms, version, doc", s.table("signin_docs"), refs, 10*time.Minute)
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read sign-in documents: %w", err)
	}
	defer rows.Close()
	latest := map[versionKey]signInVersion{}
	for rows.Next() {
		var v signInVersion
		if err := rows.Scan(&v.userKey, &v.category, &v.id, &v.at, &v.ms, &v.version, &v.doc); err != nil {
			return nil, fmt.Errorf("clickhouse: read sign-in documents: %w", err)
		}
		k := versionKey{v.category, v.id}
		if old, ok := latest[k]; !ok || v.newer(&old) {
			latest[k] = v
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: read sign-in documents: %w", err)
	}
	var out []schemas.SignIn
	for _, v := range pickLatest(latest, limit) {
		si, err := decodeSignInDoc(v.doc)
		if err != nil {
			return nil, fmt.Errorf("clickhouse: decode stored sign-in: %w", err)
		}
		out = append(out, *si)
	}
	return out, nil
}
