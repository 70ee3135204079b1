package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

// RecentFailures implements sinks.FailureSource from window_failures,
// where no later copy replaces a row: a failure stored before the
// committed offset is what the window saw. The span counts back from the
// watermark the window had at that offset; duplicates (one sign-in at
// two offsets) are the window's to drop, as with ClickHouse.
func (s *Store) RecentFailures(ctx context.Context, shard int, beforeOffset int64, span time.Duration) ([]sinks.FailureRecord, error) {
	if beforeOffset <= 0 {
		return nil, nil
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	wm, ok, err := s.watermark(ctx, sinks.WindowUsers, shard, beforeOffset)
	if err != nil || !ok {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT user_key, category, id, created_ms, error_code, app_id, device FROM window_failures
		WHERE shard = ? AND created_ms > ? AND kafka_offset < ? ORDER BY created_ms`,
		shard, wm-span.Milliseconds(), beforeOffset)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read recent failures of shard %d: %w", shard, err)
	}
	defer rows.Close()
	var out []sinks.FailureRecord
	for rows.Next() {
		var r sinks.FailureRecord
		var category, id string
		var ms int64
		if err := rows.Scan(&r.UserKey, &category, &id, &ms, &r.ErrorCode, &r.AppID, &r.Device); err != nil {
			return nil, fmt.Errorf("sqlite: read recent failures: %w", err)
		}
		r.Identity = (&schemas.SignIn{Category: category, ID: id}).Identity()
		r.At = time.UnixMilli(ms).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// RecentIPFailures implements sinks.IPFailureSource, as RecentFailures.
func (s *Store) RecentIPFailures(ctx context.Context, shard int, beforeOffset int64, span time.Duration) ([]sinks.IPFailureRecord, error) {
	if beforeOffset <= 0 {
		return nil, nil
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	wm, ok, err := s.watermark(ctx, sinks.WindowIPs, shard, beforeOffset)
	if err != nil || !ok {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT ip, user_key, identity, created_ms, kafka_offset FROM window_ip_failures
		WHERE shard = ? AND created_ms > ? AND kafka_offset < ? ORDER BY created_ms`,
		shard, wm-span.Milliseconds(), beforeOffset)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read recent IP failures of shard %d: %w", shard, err)
	}
	defer rows.Close()
	var out []sinks.IPFailureRecord
	for rows.Next() {
		r := sinks.IPFailureRecord{Shard: shard}
		var ms int64
		if err := rows.Scan(&r.IP, &r.UserKey, &r.Identity, &ms, &r.Offset); err != nil {
			return nil, fmt.Errorf("sqlite: read recent IP failures: %w", err)
		}
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
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	ms, ok, err := s.watermark(ctx, window, shard, beforeOffset)
	if err != nil || !ok {
		return time.Time{}, err
	}
	return time.UnixMilli(ms).UTC(), nil
}

// watermark is the watermark a stage's window had on shard after its last
// batch before beforeOffset, in Unix milliseconds (watermarks only grow,
// so the largest is the last); ok is false when the shard stored nothing
// before it. A shard without recorded marks falls back to the latest
// event stored from it before the offset.
func (s *Store) watermark(ctx context.Context, stage string, shard int, beforeOffset int64) (ms int64, ok bool, err error) {
	// Backwards along signins_time, which holds shard and offset: the
	// first row found is the latest.
	events := "SELECT created_ms FROM signins WHERE shard = ? AND kafka_offset < ? ORDER BY created_ms DESC LIMIT 1"
	if stage == sinks.WindowIPs {
		events = "SELECT max(created_ms) FROM window_ip_failures WHERE shard = ? AND kafka_offset < ?"
	}
	for _, q := range []struct {
		query string
		args  []any
	}{
		{"SELECT max(watermark_ms) FROM window_marks WHERE stage = ? AND shard = ? AND kafka_offset < ?", []any{stage, shard, beforeOffset}},
		{events, []any{shard, beforeOffset}},
	} {
		var v sql.NullInt64
		err := s.r.QueryRowContext(ctx, q.query, q.args...).Scan(&v)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return 0, false, fmt.Errorf("sqlite: watermark of %s shard %d: %w", stage, shard, err)
		}
		if v.Valid {
			return v.Int64, true, nil
		}
	}
	return 0, false, nil
}
