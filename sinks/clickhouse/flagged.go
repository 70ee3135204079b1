package clickhouse

import (
	"context"
	"fmt"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/schemas/wire"
	"github.com/signindiag/signindiag/sinks"
	"github.com/signindiag/signindiag/sinks/flagjoin"
)

// Flagged implements sinks.Reader. Flags are read in page order from
// flag_times, one time slice after the other (18.16 cannot stop reading at
// a LIMIT), until the slices hold a page of targets whose latest flag they
// are; flag_keys tells which targets were flagged again later. Sign-ins
// are then resolved through signin_lookup.
func (s *Store) Flagged(ctx context.Context, q sinks.FlaggedQuery) ([]sinks.FlaggedSignIn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	return flagjoin.Page(ctx, flagReads{s}, q, sinks.PageLimit(q.Limit))
}

// flagReads are the flagged queue's reads (flagjoin.Backend).
type flagReads struct{ s *Store }

func (f flagReads) Targets(ctx context.Context, before time.Time, beforeID string, limit int) ([]flagjoin.Target, error) {
	return f.s.flagPage(ctx, before, beforeID, limit)
}

// SignInsNamed reads the pairs of flags and sign-ins stored at write time
// (flag_hits, migration 0007), then the documents.
func (f flagReads) SignInsNamed(ctx context.Context, targets []flagjoin.Target, limit int) ([]schemas.SignIn, error) {
	return f.s.signInsFlaggedBy(ctx, targets, limit)
}

// FlagsNaming reads the pairs by the sign-ins' users and times
// (flag_hits_by_user).
func (f flagReads) FlagsNaming(ctx context.Context, signIns []schemas.SignIn) ([]flagjoin.Target, error) {
	return f.s.flagsNamingSignIns(ctx, signIns)
}

// flagPage returns up to limit targets after the cursor in page order,
// each under its latest flag. It reads flag_times one time slice at a
// time, each starting where flag_hours says the next reads' worth of
// flags begins, until the slices hold a page of targets whose latest flag
// they are; past the hours it knows of, reads are unbounded.
func (s *Store) flagPage(ctx context.Context, before time.Time, beforeID string, limit int) ([]flagjoin.Target, error) {
	var out []flagjoin.Target
	seen := map[[3]string]bool{}
	read := 2 * limit // flags per read: spares for the targets flagged again
	starts, err := s.flagSliceStarts(ctx, before, read)
	if err != nil {
		return nil, err
	}
	for span := 0; len(out) < limit; {
		where := "((flagged_at < ?) OR (flagged_at = ? AND id < ?))"
		args := []any{before, before, beforeID}
		bounded := span < len(starts)
		if bounded {
			where += " AND flagged_at >= ?"
			args = append(args, starts[span])
		}
		rows, err := s.conn.Query(ctx, fmt.Sprintf(
			`SELECT signin_id, correlation_id, request_id, flagged_at, id, flagged_by FROM %s WHERE %s
			 ORDER BY flagged_at DESC, id DESC LIMIT 1 BY signin_id, correlation_id, request_id LIMIT %d`,
			s.table("flag_times"), where, read), args...)
		if err != nil {
			return nil, fmt.Errorf("clickhouse: read flags: %w", err)
		}
		var batch []flagjoin.Target
		n := 0
		for rows.Next() {
			var t flagjoin.Target
			if err := rows.Scan(&t.SignInID, &t.CorrelationID, &t.RequestID, &t.At, &t.ID, &t.By); err != nil {
				_ = rows.Close() // the scan error is the one to report
				return nil, fmt.Errorf("clickhouse: read flags: %w", err)
			}
			n++
			before, beforeID = t.At, t.ID
			if k := targetKey(&t); !seen[k] {
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

// flagSliceStarts returns the starts of the time slices before the cursor
// that hold read, 2×read, 4×read … flags by flag_hours' counts, newest
// first.
func (s *Store) flagSliceStarts(ctx context.Context, before time.Time, read int) ([]time.Time, error) {
	rows, err := s.conn.Query(ctx, fmt.Sprintf(
		"SELECT hour, sum(flags) FROM %s WHERE hour <= ? GROUP BY hour ORDER BY hour DESC", s.table("flag_hours")),
		before.Truncate(time.Hour))
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read flags per hour: %w", err)
	}
	defer rows.Close()
	var starts []time.Time
	var total uint64
	want := uint64(read)
	for rows.Next() {
		var hour time.Time
		var n uint64
		if err := rows.Scan(&hour, &n); err != nil {
			return nil, fmt.Errorf("clickhouse: read flags per hour: %w", err)
		}
		if total += n; total >= want {
			starts = append(starts, hour)
			want *= 2
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: read flags per hour: %w", err)
	}
	return starts, nil
}

func targetKey(t *flagjoin.Target) [3]string {
	return [3]string{t.SignInID, t.CorrelationID, t.RequestID}
}

// notFlaggedAgain drops the targets that a later flag names (they are
// listed under that one), keeping the order.
func (s *Store) notFlaggedAgain(ctx context.Context, targets []flagjoin.Target) ([]flagjoin.Target, error) {
	if len(targets) == 0 {
		return nil, nil
	}
	// A flag again on the same target names its keys again: any one of
	// them finds it (each key costs a granule per part).
	var keys []any
	oldest := targets[0].At
	for i := range targets {
		for _, k := range targetKey(&targets[i]) {
			if k != "" {
				keys = append(keys, k)
				break
			}
		}
		if targets[i].At.Before(oldest) {
			oldest = targets[i].At
		}
	}
	rows, err := s.conn.Query(ctx, fmt.Sprintf(
		"SELECT signin_id, correlation_id, request_id, flagged_at, id FROM %s WHERE key IN ? AND flagged_at >= ?", s.table("flag_keys")),
		ch.GroupSet{Value: keys}, oldest)
	flags, err := scanTargets(rows, err, "read later flags")
	if err != nil {
		return nil, err
	}
	latest := map[[3]string]flagjoin.Target{}
	for _, t := range flags {
		if l, ok := latest[targetKey(&t)]; !ok || t.After(&l) {
			latest[targetKey(&t)] = t
		}
	}
	var out []flagjoin.Target
	for _, t := range targets {
		if l, ok := latest[targetKey(&t)]; ok && l.After(&t) {
			continue
		}
		out = append(out, t)
	}
	return out, nil
}

// signInsByKeys resolves request ids and correlation ids (lower-cased, as
// signin_lookup holds them) to the latest versions of their sign-ins: the
// keys first (a few small granules each), then the documents of those
// primary-key ranges of signin_docs alone.
func (s *Store) signInsByKeys(ctx context.Context, requestKeys, correlationKeys []any, limit int) ([]schemas.SignIn, error) {
	if len(requestKeys) == 0 && len(correlationKeys) == 0 {
		return nil, nil
	}
	where, args := lookupKeys(requestKeys, correlationKeys)
	rows, err := s.conn.Query(ctx, fmt.Sprintf(
		"SELECT DISTINCT user_key, created_at, signin_id FROM %s WHERE %s LIMIT %d",
		s.table("signin_lookup"), where, 2*limit), args...)
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
	latest, err := s.latestVersions(ctx, refs)
	if err != nil {
		return nil, err
	}
	return decodeVersions(pickLatest(latest, limit))
}

// latestVersions reads the versions stored in the refs' ranges, with their
// documents, and keeps the latest of each sign-in.
func (s *Store) latestVersions(ctx context.Context, refs []docRef) (map[versionKey]signInVersion, error) {
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
		keepLatest(latest, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: read sign-in documents: %w", err)
	}
	return latest, nil
}

// keepLatest keeps v in latest if it is the latest version of its sign-in.
func keepLatest(latest map[versionKey]signInVersion, v signInVersion) {
	k := versionKey{v.category, v.id}
	if old, ok := latest[k]; !ok || v.newer(&old) {
		latest[k] = v
	}
}

// decodeVersions decodes the documents of the versions, in their order.
func decodeVersions(versions []signInVersion) ([]schemas.SignIn, error) {
	out := make([]schemas.SignIn, 0, len(versions))
	for _, v := range versions {
		si, err := wire.DecodeSignInDocument([]byte(v.doc))
		if err != nil {
			return nil, fmt.Errorf("clickhouse: decode stored sign-in: %w", err)
		}
		out = append(out, *si)
	}
	return out, nil
}
