package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
	"github.com/signindiag/signindiag/sinks/flagjoin"
)

// flagHit pairs a flag with a version of a stored sign-in it names
// (migration 0007), document included: a flagged page then reads no
// granule of signin_docs, whose 128 documents a granule cost more than the
// rest of the page.
type flagHit struct {
	flag flagjoin.Target
	signInVersion
}

// maxKeysPerQuery bounds the keys of one IN list: 18.16 parses at most
// max_query_size (256 KiB) of a query's text, about 6 000 ids.
const maxKeysPerQuery = 2000

// writeFlagHits pairs, once batches are stored, their flags with the
// stored sign-ins they name and their sign-ins with the stored flags
// naming them. Both sides look only after their own rows are stored: of a
// flag and its sign-in written at once by two writers, the later to look
// sees the other. A replayed batch pairs again; the table collapses
// repeats. A batch's sign-ins are paired as written, at version+i.
func (s *Store) writeFlagHits(ctx context.Context, batches []*sinks.Batch, version uint64) error {
	var flags []schemas.Flag
	for _, b := range batches {
		flags = append(flags, b.Flags...)
	}
	var hits []flagHit
	if len(flags) > 0 {
		h, err := s.hitsOfFlags(ctx, flags)
		if err != nil {
			return err
		}
		hits = append(hits, h...)
	}
	var signIns []versioned
	for i, b := range batches {
		for j := range b.SignIns {
			signIns = append(signIns, versioned{&b.SignIns[j], version + uint64(i)})
		}
	}
	if len(signIns) > 0 {
		h, err := s.hitsOfSignIns(ctx, signIns)
		if err != nil {
			return err
		}
		hits = append(hits, h...)
	}
	if len(hits) == 0 {
		return nil
	}
	const cols = "flagged_at, flag_id, flag_signin_id, flag_correlation_id, flag_request_id, " +
		"user_key, created_at, category, signin_id, created_ms, version, doc"
	return s.send(ctx, "flag_hits", cols, func(batch driver.Batch) error {
		for _, h := range hits {
			f := &h.flag
			if err := batch.Append(f.At, f.ID, f.SignInID, f.CorrelationID, f.RequestID,
				h.userKey, h.at, h.category, h.id, h.ms, h.version, h.doc); err != nil {
				return err
			}
		}
		return nil
	})
}

// versioned is a sign-in record as written, at its batch's version.
type versioned struct {
	r       *sinks.SignInRecord
	version uint64
}

// hitsOfSignIns pairs the sign-ins with the stored flags naming them.
func (s *Store) hitsOfSignIns(ctx context.Context, rows []versioned) ([]flagHit, error) {
	var keys flagjoin.KeySet
	for i := range rows {
		keys.Add(&rows[i].r.SignIn)
	}
	flags, err := s.flagsByKey(ctx, keys.Keys)
	if err != nil || len(flags) == 0 {
		return nil, err
	}
	var hits []flagHit
	for i := range rows {
		si := &rows[i].r.SignIn
		for _, f := range flags {
			if !f.Names(si) {
				continue
			}
			doc, err := storedDoc(rows[i].r)
			if err != nil {
				return nil, err
			}
			hits = append(hits, flagHit{flag: f, signInVersion: signInVersion{userKey: si.UserKey(), at: si.CreatedDateTime,
				ms: si.CreatedDateTime.UnixMilli(), version: rows[i].version, category: si.Category, id: si.ID, doc: string(doc)}})
		}
	}
	return hits, nil
}

// flagsByKey reads the flags naming any of the keys from flag_keys, which
// holds a row per key of each flag. The keys of a batch (two per sign-in)
// travel as an external table, a data block: as an IN list they would be
// parsed as SQL, 18.16 taking a quarter of a second for 4 000 of them.
func (s *Store) flagsByKey(ctx context.Context, keys []string) ([]flagjoin.Target, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	batchKeys, err := ext.NewTable("batch_keys", ext.Column("key", "String"))
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read flags by key: %w", err)
	}
	for _, k := range keys {
		if err := batchKeys.Append(k); err != nil {
			return nil, fmt.Errorf("clickhouse: read flags by key: %w", err)
		}
	}
	rows, err := s.conn.Query(ch.Context(ctx, ch.WithExternalTable(batchKeys)), fmt.Sprintf(
		"SELECT signin_id, correlation_id, request_id, flagged_at, id FROM %s WHERE key IN batch_keys", s.table("flag_keys")))
	return scanTargets(rows, err, "read flags by key")
}

// scanTargets reads rows of (signin_id, correlation_id, request_id,
// flagged_at, id), the result of a query that failed with err or not.
func scanTargets(rows driver.Rows, err error, what string) ([]flagjoin.Target, error) {
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %s: %w", what, err)
	}
	defer rows.Close()
	var out []flagjoin.Target
	for rows.Next() {
		var t flagjoin.Target
		if err := rows.Scan(&t.SignInID, &t.CorrelationID, &t.RequestID, &t.At, &t.ID); err != nil {
			return nil, fmt.Errorf("clickhouse: %s: %w", what, err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: %s: %w", what, err)
	}
	return out, nil
}

// hitsOfFlags pairs the flags with the stored sign-ins they name, through
// the id and correlation id keys of signin_lookup (a flag is rare next to
// sign-ins: a batch holds a few).
func (s *Store) hitsOfFlags(ctx context.Context, flags []schemas.Flag) ([]flagHit, error) {
	targets := make([]flagjoin.Target, len(flags))
	var requestKeys, correlationKeys []any
	for i, f := range flags {
		t := flagjoin.Target{SignInID: strings.ToLower(f.SignInID), CorrelationID: strings.ToLower(f.CorrelationID),
			RequestID: strings.ToLower(f.RequestID), At: f.FlaggedAt.UTC().Truncate(time.Second), ID: f.ID}
		targets[i] = t
		for _, k := range []string{t.SignInID, t.RequestID} {
			if k != "" {
				requestKeys = append(requestKeys, k)
			}
		}
		if t.CorrelationID != "" {
			correlationKeys = append(correlationKeys, t.CorrelationID)
		}
	}
	var hits []flagHit
	for len(requestKeys) > 0 || len(correlationKeys) > 0 {
		r, c := min(len(requestKeys), maxKeysPerQuery/2), min(len(correlationKeys), maxKeysPerQuery/2)
		h, err := s.hitsOfKeys(ctx, targets, requestKeys[:r], correlationKeys[:c])
		if err != nil {
			return nil, err
		}
		hits = append(hits, h...)
		requestKeys, correlationKeys = requestKeys[r:], correlationKeys[c:]
	}
	return hits, nil
}

// hitsOfKeys reads the sign-ins stored under some of the targets' keys,
// pairs each with the targets naming it by that key, then reads the
// latest version of each (a flag is rare: a few ranges of signin_docs).
func (s *Store) hitsOfKeys(ctx context.Context, targets []flagjoin.Target, requestKeys, correlationKeys []any) ([]flagHit, error) {
	where, args := lookupKeys(requestKeys, correlationKeys)
	rows, err := s.conn.Query(ctx, fmt.Sprintf(
		"SELECT kind, key, user_key, created_at, signin_id FROM %s WHERE %s", s.table("signin_lookup"), where), args...)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: resolve flagged keys: %w", err)
	}
	defer rows.Close()
	type pair struct {
		flag flagjoin.Target
		ref  docRef
	}
	var pairs []pair
	var refs []docRef
	for rows.Next() {
		var kind, key string
		var r docRef
		if err := rows.Scan(&kind, &key, &r.userKey, &r.from, &r.id); err != nil {
			return nil, fmt.Errorf("clickhouse: resolve flagged keys: %w", err)
		}
		r.to = r.from.Add(reemitSlack)
		refs = append(refs, r)
		for _, t := range targets {
			byID := kind == keyRequest && (t.SignInID == key || t.RequestID == key)
			if byID || (kind == keyCorrelation && t.CorrelationID == key) {
				pairs = append(pairs, pair{t, r})
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: resolve flagged keys: %w", err)
	}
	if len(pairs) == 0 {
		return nil, nil
	}
	latest, err := s.latestVersions(ctx, refs)
	if err != nil {
		return nil, err
	}
	var hits []flagHit
	for _, p := range pairs {
		for _, v := range latest {
			if v.id == p.ref.id && v.userKey == p.ref.userKey {
				hits = append(hits, flagHit{flag: p.flag, signInVersion: v})
			}
		}
	}
	return hits, nil
}

// lookupKeys is the condition on signin_lookup for request ids and
// correlation ids (lower-cased); either list may be empty, not both.
func lookupKeys(requestKeys, correlationKeys []any) (string, []any) {
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
	return strings.Join(conds, " OR "), args
}

// signInsFlaggedBy returns the latest versions of the stored sign-ins the
// flags (targets, each under its latest flag) name, from the pairs of
// their time slice. Pairs a migration backfilled carry no document: their
// sign-ins are read from signin_docs.
func (s *Store) signInsFlaggedBy(ctx context.Context, targets []flagjoin.Target, limit int) ([]schemas.SignIn, error) {
	if len(targets) == 0 {
		return nil, nil
	}
	ids := make([]any, 0, len(targets))
	oldest, newest := targets[0].At, targets[0].At
	for _, t := range targets {
		ids = append(ids, t.ID)
		if t.At.Before(oldest) {
			oldest = t.At
		}
		if t.At.After(newest) {
			newest = t.At
		}
	}
	rows, err := s.conn.Query(ctx, fmt.Sprintf(
		`SELECT user_key, created_at, category, signin_id, created_ms, version, doc FROM %s
		 WHERE flagged_at >= ? AND flagged_at <= ? AND flag_id IN ? LIMIT %d`,
		s.table("flag_hits"), 8*limit), oldest.Truncate(time.Second), newest, ch.GroupSet{Value: ids})
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read flagged sign-ins: %w", err)
	}
	defer rows.Close()
	latest := map[versionKey]signInVersion{}
	var refs []docRef
	for rows.Next() {
		var v signInVersion
		if err := rows.Scan(&v.userKey, &v.at, &v.category, &v.id, &v.ms, &v.version, &v.doc); err != nil {
			return nil, fmt.Errorf("clickhouse: read flagged sign-ins: %w", err)
		}
		if v.doc == "" {
			refs = append(refs, docRef{userKey: v.userKey, from: v.at, to: v.at.Add(reemitSlack), id: v.id})
			continue
		}
		keepLatest(latest, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: read flagged sign-ins: %w", err)
	}
	if len(refs) > 0 {
		stored, err := s.latestVersions(ctx, refs)
		if err != nil {
			return nil, err
		}
		for _, v := range stored {
			keepLatest(latest, v)
		}
	}
	return decodeVersions(pickLatest(latest, limit))
}

// flagsNamingSignIns returns the flags paired with the sign-ins' users
// within their time span (flag_hits_by_user): an IN on the users and one
// range, since 18.16's index analysis of an OR of ranges grows with their
// number (docs/clickhouse-compatibility.md). A sign-in named by no flag
// costs an index granule, whatever the number of flags.
func (s *Store) flagsNamingSignIns(ctx context.Context, signIns []schemas.SignIn) ([]flagjoin.Target, error) {
	if len(signIns) == 0 {
		return nil, nil
	}
	var users []any
	seen := map[string]bool{}
	from, to := signIns[0].CreatedDateTime, signIns[0].CreatedDateTime
	for i := range signIns {
		si := &signIns[i]
		if k := si.UserKey(); !seen[k] {
			seen[k] = true
			users = append(users, k)
		}
		if si.CreatedDateTime.Before(from) {
			from = si.CreatedDateTime
		}
		if si.CreatedDateTime.After(to) {
			to = si.CreatedDateTime
		}
	}
	rows, err := s.conn.Query(ctx, fmt.Sprintf(
		`SELECT DISTINCT flag_signin_id, flag_correlation_id, flag_request_id, flagged_at, flag_id FROM %s
		 WHERE user_key IN ? AND created_at >= ? AND created_at <= ?`, s.table("flag_hits_by_user")),
		ch.GroupSet{Value: users}, from.UTC().Truncate(time.Second), to.UTC())
	return scanTargets(rows, err, "read flags of sign-ins")
}
