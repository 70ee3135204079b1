package clickhouse

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/schemas/wire"
	"github.com/signindiag/signindiag/sinks"
	"github.com/signindiag/signindiag/sinks/flagjoin"
)

// reemitSlack widens id lookups past the time signin_lookup knows: Entra
// re-emits a completed sign-in a few seconds later, a batch's key rows
// and documents are written concurrently, and signin_keys (whose rows
// were copied into signin_lookup) kept one time per sign-in, not one per
// version. An interrupt is completed within minutes (the MFA prompt
// expires), so a quarter of an hour covers it and keeps the range a few
// granules long even for the busiest user.
const reemitSlack = 15 * time.Minute

// SignIns implements sinks.Reader.
func (s *Store) SignIns(ctx context.Context, q sinks.SignInQuery) ([]schemas.SignIn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	limit := sinks.PageLimit(q.Limit)
	var out []schemas.SignIn
	var err error
	switch {
	case q.CorrelationID != "":
		out, err = s.signInsByKey(ctx, keyCorrelation, q.CorrelationID, limit)
	case q.RequestID != "":
		out, err = s.signInsByKey(ctx, keyRequest, q.RequestID, limit)
	case q.User != "":
		out, err = s.signInsByUser(ctx, q, limit)
	default:
		return nil, fmt.Errorf("%w: a correlationId, requestId or user is required", sinks.ErrInvalidQuery)
	}
	if err != nil {
		return nil, err
	}
	if err := s.markFlagged(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// signInsByKey resolves one request id or correlation id.
func (s *Store) signInsByKey(ctx context.Context, kind, key string, limit int) ([]schemas.SignIn, error) {
	keys := []any{strings.ToLower(key)}
	if kind == keyRequest {
		return s.signInsByKeys(ctx, keys, nil, limit)
	}
	return s.signInsByKeys(ctx, nil, keys, limit)
}

// signInsByUser returns the user's newest sign-ins in [From, To]. 18.16
// cannot stop reading at a LIMIT, so the search reads the newest hours
// that hold a page (signin_user_hours says which), widening the range
// only when they fall short, and reads the documents of the page alone.
func (s *Store) signInsByUser(ctx context.Context, q sinks.SignInQuery, limit int) ([]schemas.SignIn, error) {
	from, to := q.From.Truncate(time.Second), q.To
	users, err := s.resolveUser(ctx, q.User)
	if err != nil {
		return nil, err
	}
	hours, err := s.userHours(ctx, users, from, to)
	if err != nil {
		return nil, err
	}
	filter, filterArgs := "", []any(nil)
	if q.App != "" {
		filter = " AND (app_id = ? OR lower(app_display_name) = ?)"
		filterArgs = []any{strings.ToLower(q.App), strings.ToLower(q.App)}
	}
	latest := map[versionKey]signInVersion{}
	upper, need := to, limit
	for round := 0; ; round++ {
		lower := cutoff(hours, upper, need, from)
		bound := "created_at <= ?"
		if round > 0 {
			bound = "created_at < ?"
		}
		args := append([]any{ch.GroupSet{Value: users}, lower, upper}, filterArgs...)
		if err := s.versions(ctx, fmt.Sprintf(
			"SELECT user_key, category, id, created_at, created_ms, version FROM %s WHERE user_key IN ? AND created_at >= ? AND %s%s",
			s.table("signin_docs"), bound, filter), args, latest); err != nil {
			return nil, err
		}
		if len(latest) >= limit || !lower.After(from) {
			break
		}
		// The hours over-count (replays, other apps): ask for twice as
		// many rows as are still missing each round.
		upper, need = lower, (limit-len(latest))<<(round+1)
	}
	return s.docsOf(ctx, pickLatest(latest, limit))
}

// cutoff is the start of the oldest hour before upper that the search
// must read to see need rows, or from.
func cutoff(hours []userHour, upper time.Time, need int, from time.Time) time.Time {
	sum := 0
	for _, h := range hours { // newest first
		if !h.hour.Before(upper) { // the hour upper lies in starts before it, so counts
			continue
		}
		if sum += int(h.n); sum >= need {
			if h.hour.Before(from) {
				return from
			}
			return h.hour
		}
	}
	return from
}

type userHour struct {
	hour time.Time
	n    uint64
}

// userHours returns the users' rows per hour in [from, to], newest first.
func (s *Store) userHours(ctx context.Context, users []any, from, to time.Time) ([]userHour, error) {
	rows, err := s.conn.Query(ctx, fmt.Sprintf(
		`SELECT hour, sum(signins) AS n FROM %s WHERE user_key IN ? AND hour >= ? AND hour <= ?
		 GROUP BY hour ORDER BY hour DESC`, s.table("signin_user_hours")),
		ch.GroupSet{Value: users}, from.Truncate(time.Hour), to)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read user activity: %w", err)
	}
	defer rows.Close()
	var out []userHour
	for rows.Next() {
		var h userHour
		if err := rows.Scan(&h.hour, &h.n); err != nil {
			return nil, fmt.Errorf("clickhouse: read user activity: %w", err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// versionKey identifies a sign-in; signInVersion is one stored version.
type versionKey struct{ category, id string }

type signInVersion struct {
	userKey  string
	at       time.Time
	ms       int64
	version  uint64
	category string
	id       string
	doc      string
}

// newer reports whether v is a later version than u: the later
// createdDateTime (Entra re-emits a completed sign-in with a later one),
// then the last written (input partitions deliver in no particular
// order, so arrival alone cannot tell).
func (v *signInVersion) newer(u *signInVersion) bool {
	if v.ms != u.ms {
		return v.ms > u.ms
	}
	return v.version > u.version
}

// versions runs a query of (user_key, category, id, created_at,
// created_ms, version) rows and keeps the latest version of each sign-in
// in latest.
func (s *Store) versions(ctx context.Context, query string, args []any, latest map[versionKey]signInVersion) error {
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("clickhouse: select sign-ins: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v signInVersion
		if err := rows.Scan(&v.userKey, &v.category, &v.id, &v.at, &v.ms, &v.version); err != nil {
			return fmt.Errorf("clickhouse: select sign-ins: %w", err)
		}
		k := versionKey{v.category, v.id}
		if old, ok := latest[k]; !ok || v.newer(&old) {
			latest[k] = v
		}
	}
	return rows.Err()
}

// pickLatest orders sign-ins newest first (then by id) and keeps limit.
func pickLatest(latest map[versionKey]signInVersion, limit int) []signInVersion {
	out := make([]signInVersion, 0, len(latest))
	for _, v := range latest {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].at.Equal(out[j].at) {
			return out[i].at.After(out[j].at)
		}
		if out[i].id != out[j].id {
			return out[i].id < out[j].id
		}
		return out[i].category < out[j].category
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

// docsOf reads the documents of exactly the given versions, in their
// order: by primary-key ranges of signin_docs, the document column only
// for the granules holding them.
func (s *Store) docsOf(ctx context.Context, want []signInVersion) ([]schemas.SignIn, error) {
	if len(want) == 0 {
		return nil, nil
	}
	refs := make([]docRef, len(want))
	for i, v := range want {
		refs[i] = docRef{userKey: v.userKey, from: v.at, to: v.at, id: v.id}
	}
	// One range per user: a page of a user's newest sign-ins holds every
	// row of that user between its oldest and newest.
	query, args := refRanges("category, id, created_ms, version, doc", s.table("signin_docs"), refs, 48*time.Hour)
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read sign-in documents: %w", err)
	}
	defer rows.Close()
	docs := map[signInVersion]string{}
	for rows.Next() {
		var v signInVersion
		var doc string
		if err := rows.Scan(&v.category, &v.id, &v.ms, &v.version, &doc); err != nil {
			return nil, fmt.Errorf("clickhouse: read sign-in documents: %w", err)
		}
		docs[v] = doc
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: read sign-in documents: %w", err)
	}
	out := make([]schemas.SignIn, 0, len(want))
	for _, v := range want {
		doc, ok := docs[signInVersion{category: v.category, id: v.id, ms: v.ms, version: v.version}]
		if !ok {
			continue // merged away by a later version written meanwhile
		}
		si, err := wire.DecodeSignInDocument([]byte(doc))
		if err != nil {
			return nil, fmt.Errorf("clickhouse: decode stored sign-in: %w", err)
		}
		out = append(out, *si)
	}
	return out, nil
}

// docRef is a primary-key range of signin_docs holding a sign-in id.
type docRef struct {
	userKey  string
	from, to time.Time
	id       string
}

// refRanges turns refs into one SELECT per primary-key range, joined by
// UNION ALL: a range per user and run of nearby times (a page of one
// user's sign-ins is one range). One OR of many ranges would be checked
// against every mark of every part, which on 18.16 costs seconds for a
// page of a hundred; separate selects each find their granules by binary
// search. columns and table fill each select; refs of a user less than
// join apart share a range.
func refRanges(columns, table string, refs []docRef, join time.Duration) (string, []any) {
	sorted := append([]docRef(nil), refs...)
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].userKey != sorted[j].userKey {
			return sorted[i].userKey < sorted[j].userKey
		}
		return sorted[i].from.Before(sorted[j].from)
	})
	var selects []string
	var args []any
	for i := 0; i < len(sorted); {
		r := sorted[i]
		lo, hi := r.from, r.to
		j := i
		var ids []any
		seen := map[string]bool{}
		for ; j < len(sorted) && sorted[j].userKey == r.userKey && !sorted[j].from.After(hi.Add(join)); j++ {
			if sorted[j].to.After(hi) {
				hi = sorted[j].to
			}
			if !seen[sorted[j].id] {
				seen[sorted[j].id] = true
				ids = append(ids, sorted[j].id)
			}
		}
		selects = append(selects, fmt.Sprintf(
			"SELECT %s FROM %s PREWHERE user_key = ? AND created_at >= ? AND created_at <= ? AND id IN ?", columns, table))
		args = append(args, r.userKey, lo.Truncate(time.Second), hi, ch.GroupSet{Value: ids})
		i = j
	}
	return strings.Join(selects, " UNION ALL "), args
}

// resolveUser maps a UPN or object id to the user keys it may stand for:
// itself (an object id, or the UPN of a sign-in without one) and the keys
// of sign-ins that carried it as their UPN. No time bound: a UPN row
// carries the day of the first sign-in of its batch, not of every day
// the UPN signed in, and the rows of one UPN are a few granules of
// signin_lookup (its primary key starts with kind and key) whatever the
// time range.
func (s *Store) resolveUser(ctx context.Context, user string) ([]any, error) {
	user = strings.ToLower(user)
	users := []any{user}
	rows, err := s.conn.Query(ctx, fmt.Sprintf(
		"SELECT DISTINCT user_key FROM %s WHERE kind = ? AND key = ? LIMIT 100",
		s.table("signin_lookup")), keyUPN, user)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: resolve user: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("clickhouse: resolve user: %w", err)
		}
		if k != user {
			users = append(users, k)
		}
	}
	return users, rows.Err()
}

// markFlagged sets FlaggedForReview on sign-ins that a flag event names,
// by their id or their correlation id: point lookups in flag_keys.
func (s *Store) markFlagged(ctx context.Context, signIns []schemas.SignIn) error {
	return flagjoin.Mark(ctx, flagReads{s}, signIns)
}

// Findings implements sinks.Reader.
func (s *Store) Findings(ctx context.Context, signIns []schemas.SignIn) ([]schemas.Finding, error) {
	if len(signIns) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	var users, ids []any
	flagged := map[string]bool{}
	seenUser := map[string]bool{}
	lo, hi := signIns[0].CreatedDateTime, signIns[0].CreatedDateTime
	for _, si := range signIns {
		if k := si.UserKey(); !seenUser[k] {
			seenUser[k] = true
			users = append(users, k)
		}
		ids = append(ids, si.ID)
		flagged[si.ID] = si.FlaggedForReview
		if si.CreatedDateTime.Before(lo) {
			lo = si.CreatedDateTime
		}
		if si.CreatedDateTime.After(hi) {
			hi = si.CreatedDateTime
		}
	}
	// Findings of one id may exist at two occurred_at values when a sign-in
	// was re-emitted with another time: keep the latest version. Read by
	// sign-in id: a few granules per sign-in, whoever its user.
	rows, err := s.conn.Query(ctx, fmt.Sprintf(
		`SELECT user_key, doc FROM %s WHERE signin_id IN ? AND user_key IN ? AND occurred_at >= ? AND occurred_at <= ?
		 ORDER BY id, occurred_at DESC, version DESC LIMIT 1 BY id LIMIT %d`,
		s.table("findings_by_signin"), sinks.MaxRows),
		ch.GroupSet{Value: ids}, ch.GroupSet{Value: users}, lo.Truncate(time.Second), hi)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: select findings: %w", err)
	}
	defer rows.Close()
	var out []schemas.Finding
	for rows.Next() {
		var userKey, doc string
		if err := rows.Scan(&userKey, &doc); err != nil {
			return nil, fmt.Errorf("clickhouse: select findings: %w", err)
		}
		var f schemas.Finding
		if err := json.Unmarshal([]byte(doc), &f); err != nil {
			return nil, fmt.Errorf("clickhouse: decode stored finding: %w", err)
		}
		f.UserKey = userKey
		f.Flagged = f.Flagged || flagged[f.SignInID]
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: select findings: %w", err)
	}
	sinks.SortFindings(out)
	return out, nil
}

// FailureCount implements sinks.Reader: distinct failed sign-in ids in
// (from, to], compared on the millisecond column so it agrees exactly with
// the live windows.
func (s *Store) FailureCount(ctx context.Context, user string, from, to time.Time) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	users, err := s.resolveUser(ctx, user)
	if err != nil {
		return 0, err
	}
	var n uint64
	err = s.conn.QueryRow(ctx, fmt.Sprintf(
		`SELECT uniqExact(id) FROM %s WHERE subject_kind = 'user' AND subject IN ?
		 AND created_at >= ? AND created_at <= ? AND created_ms > ? AND created_ms <= ?`, s.table("failure_facts")),
		ch.GroupSet{Value: users}, from.Truncate(time.Second), to, from.UnixMilli(), to.UnixMilli()).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("clickhouse: count failures: %w", err)
	}
	return int(n), nil
}

// RecentFailures implements sinks.FailureSource from window_failures, a
// plain MergeTree no merge rewrites: a row stored before the committed
// offset is what the window saw, whatever later copies say; duplicates are
// the window's to drop. The span is counted back from the watermark the
// window had at the committed offset, and the time bound on created_at
// (the table's sorting key after shard) keeps the read to that span.
func (s *Store) RecentFailures(ctx context.Context, shard int, beforeOffset int64, span time.Duration) ([]sinks.FailureRecord, error) {
	if beforeOffset <= 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 4*s.cfg.QueryTimeout)
	defer cancel()
	wm, ok, err := s.watermark(ctx, sinks.WindowUsers, shard, beforeOffset)
	if err != nil || !ok {
		return nil, err
	}
	from := wm - span.Milliseconds()
	rows, err := s.conn.Query(ctx, fmt.Sprintf(
		`SELECT user_key, category, id, created_ms, error_code, app_id, device FROM %s
		 WHERE shard = ? AND created_at >= ? AND created_ms > ? AND kafka_offset < ?
		 ORDER BY created_ms`, s.table("window_failures")),
		uint16(shard), secondsFloor(from), from, beforeOffset)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read recent failures of shard %d: %w", shard, err)
	}
	defer rows.Close()
	var out []sinks.FailureRecord
	for rows.Next() {
		var r sinks.FailureRecord
		var category, id string
		var ms int64
		var code int32
		if err := rows.Scan(&r.UserKey, &category, &id, &ms, &code, &r.AppID, &r.Device); err != nil {
			return nil, fmt.Errorf("clickhouse: read recent failures: %w", err)
		}
		r.Identity = (&schemas.SignIn{Category: category, ID: id}).Identity()
		r.ErrorCode = int(code)
		r.At = time.UnixMilli(ms).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// WindowWatermark implements sinks.WatermarkSource.
func (s *Store) WindowWatermark(ctx context.Context, window string, shard int, beforeOffset int64) (time.Time, error) {
	if beforeOffset <= 0 {
		return time.Time{}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 4*s.cfg.QueryTimeout)
	defer cancel()
	ms, ok, err := s.watermark(ctx, window, shard, beforeOffset)
	if err != nil || !ok {
		return time.Time{}, err
	}
	return time.UnixMilli(ms).UTC(), nil
}

// watermark is the watermark a stage's window had on shard after its last
// batch before beforeOffset, in Unix milliseconds; ok is false when the
// shard stored nothing before it. Partitions written before window_marks
// existed fall back to the latest event stored, read the slow way once.
func (s *Store) watermark(ctx context.Context, stage string, shard int, beforeOffset int64) (ms int64, ok bool, err error) {
	// A mark is written with every batch, so the marks of the last two
	// days (two daily partitions) almost always hold the one wanted; all
	// of them are read only when a partition was idle longer. Watermarks
	// only grow, so the largest before the offset is the last one.
	for _, since := range []time.Time{time.Now().UTC().Add(-48 * time.Hour).Truncate(24 * time.Hour), time.Unix(0, 0).UTC()} {
		var marks uint64
		err = s.conn.QueryRow(ctx, fmt.Sprintf(
			`SELECT max(watermark_ms), count() FROM %s
			 WHERE written_at >= ? AND stage = ? AND shard = ? AND kafka_offset < ?`, s.table("window_marks")),
			since, stage, uint16(shard), beforeOffset).Scan(&ms, &marks)
		if err != nil {
			return 0, false, fmt.Errorf("clickhouse: watermark of %s shard %d: %w", stage, shard, err)
		}
		if marks > 0 {
			return ms, true, nil
		}
	}
	events := s.table("signins")
	if stage == sinks.WindowIPs {
		events = s.table("ip_failures")
	}
	var n uint64
	err = s.conn.QueryRow(ctx, fmt.Sprintf(
		`SELECT max(created_ms), count() FROM %s WHERE shard = ? AND kafka_offset < ?`, events),
		uint16(shard), beforeOffset).Scan(&ms, &n)
	if err != nil {
		return 0, false, fmt.Errorf("clickhouse: latest event of %s shard %d: %w", stage, shard, err)
	}
	return ms, n > 0, nil
}

// secondsFloor is the DateTime second holding Unix millisecond ms, for a
// bound on a DateTime sorting-key column that keeps every row of a bound
// on the millisecond column.
func secondsFloor(ms int64) time.Time {
	return time.UnixMilli(ms).UTC().Truncate(time.Second)
}

// RecentIPFailures implements sinks.IPFailureSource from
// window_ip_failures, as RecentFailures does for users.
func (s *Store) RecentIPFailures(ctx context.Context, shard int, beforeOffset int64, span time.Duration) ([]sinks.IPFailureRecord, error) {
	if beforeOffset <= 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 4*s.cfg.QueryTimeout)
	defer cancel()
	wm, ok, err := s.watermark(ctx, sinks.WindowIPs, shard, beforeOffset)
	if err != nil || !ok {
		return nil, err
	}
	from := wm - span.Milliseconds()
	rows, err := s.conn.Query(ctx, fmt.Sprintf(
		`SELECT ip, user_key, identity, created_ms, kafka_offset FROM %s
		 WHERE shard = ? AND created_at >= ? AND created_ms > ? AND kafka_offset < ?
		 ORDER BY created_ms`, s.table("window_ip_failures")),
		uint16(shard), secondsFloor(from), from, beforeOffset)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read recent IP failures of shard %d: %w", shard, err)
	}
	defer rows.Close()
	var out []sinks.IPFailureRecord
	for rows.Next() {
		r := sinks.IPFailureRecord{Shard: shard}
		var ms int64
		if err := rows.Scan(&r.IP, &r.UserKey, &r.Identity, &ms, &r.Offset); err != nil {
			return nil, fmt.Errorf("clickhouse: read recent IP failures: %w", err)
		}
		r.At = time.UnixMilli(ms).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}
