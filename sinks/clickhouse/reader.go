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
)

// maxRows bounds every result, whatever the caller asked for.
const maxRows = 1000

// reemitSlack widens id lookups past the latest time signin_keys knows:
// Entra re-emits a completed sign-in a few seconds later, and a batch's
// key rows are written just after its sign-ins, so for a moment the
// newest version can exist before its key does.
const reemitSlack = time.Hour

// SignIns implements sinks.Reader.
func (s *Store) SignIns(ctx context.Context, q sinks.SignInQuery) ([]schemas.SignIn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	limit := q.Limit
	if limit <= 0 || limit > maxRows {
		limit = maxRows
	}
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

func (s *Store) signInsByUser(ctx context.Context, q sinks.SignInQuery, limit int) ([]schemas.SignIn, error) {
	users, err := s.resolveUser(ctx, q.User)
	if err != nil {
		return nil, err
	}
	where := "user_key IN ? AND created_at >= ? AND created_at <= ?"
	args := []any{ch.GroupSet{Value: users}, q.From.Truncate(time.Second), q.To}
	if q.App != "" {
		where += " AND (app_id = ? OR lower(app_display_name) = ?)"
		args = append(args, strings.ToLower(q.App), strings.ToLower(q.App))
	}
	return s.selectSignIns(ctx, latestSignIns(s.table("signins"), where, limit), args...)
}

// latestSignIns selects the latest version of each matching sign-in,
// newest first. The latest is the one with the latest createdDateTime
// (Entra re-emits a completed sign-in with a later one), then the last
// written: input partitions deliver in no particular order, so arrival
// alone cannot tell which version is newer. LIMIT 1 BY rather than FINAL:
// versions may differ in created_at, which is part of the sorting key.
func latestSignIns(table, where string, limit int) string {
	return fmt.Sprintf(`SELECT doc FROM (
		SELECT doc, created_at, id FROM %s WHERE %s
		ORDER BY category, id, created_ms DESC, version DESC LIMIT 1 BY category, id)
	ORDER BY created_at DESC, id LIMIT %d`, table, where, limit)
}

// resolveUser maps a UPN or object id to the user keys it may stand for:
// itself (an object id, or the UPN of a sign-in without one) and the keys of
// sign-ins that carried it as their UPN.
func (s *Store) resolveUser(ctx context.Context, user string) ([]any, error) {
	user = strings.ToLower(user)
	users := []any{user}
	rows, err := s.conn.Query(ctx, fmt.Sprintf(
		"SELECT DISTINCT user_key FROM %s WHERE kind = ? AND key = ? LIMIT 100", s.table("signin_keys")), keyUPN, user)
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

func (s *Store) selectSignIns(ctx context.Context, query string, args ...any) ([]schemas.SignIn, error) {
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: select sign-ins: %w", err)
	}
	defer rows.Close()
	var out []schemas.SignIn
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("clickhouse: select sign-ins: %w", err)
		}
		si, err := decodeSignInDoc(doc)
		if err != nil {
			return nil, fmt.Errorf("clickhouse: decode stored sign-in: %w", err)
		}
		out = append(out, *si)
	}
	return out, rows.Err()
}

// decodeSignInDoc reads a stored document: the wire encoding (what the
// pipeline writes), or JSON (rows written before it did).
func decodeSignInDoc(doc string) (*schemas.SignIn, error) {
	if strings.HasPrefix(doc, "{") {
		var si schemas.SignIn
		if err := json.Unmarshal([]byte(doc), &si); err != nil {
			return nil, err
		}
		return &si, nil
	}
	var ev schemas.Event
	if err := wire.DecodeEvent([]byte(doc), &ev); err != nil {
		return nil, err
	}
	if ev.SignIn == nil {
		return nil, fmt.Errorf("the document holds no sign-in")
	}
	return ev.SignIn, nil
}

// markFlagged sets FlaggedForReview on sign-ins that a flag event names.
// Flags are keyed by the user as the flag named them (object id or UPN),
// so both candidates of every sign-in are looked up.
func (s *Store) markFlagged(ctx context.Context, signIns []schemas.SignIn) error {
	if len(signIns) == 0 {
		return nil
	}
	seen := map[string]bool{}
	var users []any
	for i := range signIns {
		for _, k := range []string{signIns[i].UserKey(), strings.ToLower(signIns[i].UserPrincipalName)} {
			if k != "" && !seen[k] {
				seen[k] = true
				users = append(users, k)
			}
		}
	}
	rows, err := s.conn.Query(ctx, fmt.Sprintf(
		"SELECT DISTINCT signin_id, correlation_id, request_id FROM %s WHERE user_key IN ?", s.table("flags")),
		ch.GroupSet{Value: users})
	if err != nil {
		return fmt.Errorf("clickhouse: read flags: %w", err)
	}
	defer rows.Close()
	flaggedIDs, flaggedCorrelations := map[string]bool{}, map[string]bool{}
	for rows.Next() {
		var signInID, correlationID, requestID string
		if err := rows.Scan(&signInID, &correlationID, &requestID); err != nil {
			return fmt.Errorf("clickhouse: read flags: %w", err)
		}
		flaggedIDs[signInID], flaggedIDs[requestID] = true, true
		flaggedCorrelations[correlationID] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("clickhouse: read flags: %w", err)
	}
	delete(flaggedIDs, "")
	delete(flaggedCorrelations, "")
	for i := range signIns {
		si := &signIns[i]
		if flaggedIDs[strings.ToLower(si.ID)] || flaggedCorrelations[strings.ToLower(si.CorrelationID)] {
			si.FlaggedForReview = true
		}
	}
	return nil
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
	// was re-emitted with another time: keep the latest version.
	rows, err := s.conn.Query(ctx, fmt.Sprintf(
		`SELECT user_key, doc FROM %s WHERE user_key IN ? AND occurred_at >= ? AND occurred_at <= ? AND signin_id IN ?
		 ORDER BY id, occurred_at DESC, version DESC LIMIT 1 BY id LIMIT %d`,
		s.table("findings"), maxRows),
		ch.GroupSet{Value: users}, lo.Truncate(time.Second), hi, ch.GroupSet{Value: ids})
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
	sortFindings(out)
	return out, nil
}

// sortFindings orders newest first, then by scenario and id, so responses
// are stable.
func sortFindings(fs []schemas.Finding) {
	sort.Slice(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if !a.OccurredAt.Equal(b.OccurredAt) {
			return a.OccurredAt.After(b.OccurredAt)
		}
		if a.Scenario != b.Scenario {
			return a.Scenario < b.Scenario
		}
		return a.ID < b.ID
	})
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
		`SELECT uniqExact(id) FROM %s WHERE user_key IN ? AND is_failure = 1
		 AND created_at >= ? AND created_at <= ? AND created_ms > ? AND created_ms <= ?`, s.table("signins")),
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
	return time.Unix(0, 0).Add(time.Duration(ms) * time.Millisecond).UTC().Truncate(time.Second)
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
