package clickhouse

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"golang.org/x/sync/errgroup"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/schemas/wire"
	"github.com/signindiag/signindiag/sinks"
	"github.com/signindiag/signindiag/sinks/evidence"
)

// Write stores a batch: sign-ins (their columns, their documents and their
// secondary keys, in three tables; see migration 0004), flags,
// findings and the spray stage's ip_failures, then pairs flags and
// sign-ins (migration 0007), one PrepareBatch per table
// with explicit column lists (a batch without them silently stores nothing
// on 18.16; see docs/clickhouse-compatibility.md). Rows carry a version
// taken from the write time, so a later version of a sign-in replaces an
// earlier one, and identical replays collapse.
func (s *Store) Write(ctx context.Context, b *sinks.Batch) error {
	if b.Len() == 0 && len(b.Watermarks) == 0 {
		return nil
	}
	if err := checkRows(b); err != nil {
		return fmt.Errorf("clickhouse: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	version := uint64(time.Now().UnixNano())
	// The tables are written at the same time, each over its own
	// connection: a flush then takes as long as its largest insert, not
	// the sum of all, which is most of the pipeline's produce→visible time.
	g, gctx := errgroup.WithContext(ctx)
	if len(b.SignIns) > 0 {
		g.Go(func() error { return s.writeSignIns(gctx, b.SignIns, version) })
		g.Go(func() error { return s.writeSignInDocs(gctx, b.SignIns, version) })
		g.Go(func() error { return s.writeSignInKeys(gctx, b.SignIns) })
		g.Go(func() error { return s.writeWindowFailures(gctx, b.SignIns) })
		g.Go(func() error { return s.writeFacts(gctx, b, version) }) // spikes.go
	}
	if len(b.Watermarks) > 0 {
		g.Go(func() error { return s.writeWatermarks(gctx, b.Watermarks) })
	}
	if len(b.Flags) > 0 {
		g.Go(func() error { return s.writeFlags(gctx, b, version) })
	}
	if len(b.Findings) > 0 {
		g.Go(func() error { return s.writeFindings(gctx, b, version) })
	}
	if len(b.IPFailures) > 0 {
		g.Go(func() error { return s.writeIPFailures(gctx, "ip_failures", b.IPFailures) })
		g.Go(func() error { return s.writeIPFailures(gctx, "window_ip_failures", b.IPFailures) })
	}
	if len(b.Incidents) > 0 {
		g.Go(func() error { return s.writeIncidents(gctx, b.Incidents) }) // incidents.go
	}
	if err := g.Wait(); err != nil {
		return err
	}
	// Pairing needs both sides stored first (flaghits.go).
	return s.writeFlagHits(ctx, b, version)
}

// writeWindowFailures stores the failed sign-ins again, narrow, for the
// window rebuild (see migration 0006).
func (s *Store) writeWindowFailures(ctx context.Context, rows []sinks.SignInRecord) error {
	failures := 0
	for i := range rows {
		if rows[i].IsFailure {
			failures++
		}
	}
	if failures == 0 {
		return nil
	}
	return s.send(ctx, "window_failures", "shard, created_at, created_ms, user_key, category, id, error_code, app_id, device, kafka_offset", func(batch driver.Batch) error {
		for i := range rows {
			r := &rows[i]
			if !r.IsFailure {
				continue
			}
			si := &r.SignIn
			if err := batch.Append(uint16(r.Shard), si.CreatedDateTime, si.CreatedDateTime.UnixMilli(), si.UserKey(), si.Category, si.ID,
				int32(si.Status.ErrorCode), si.AppID, evidence.Device(si), r.Offset); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) writeWatermarks(ctx context.Context, rows []sinks.WatermarkRecord) error {
	now := time.Now().UTC()
	return s.send(ctx, "window_marks", "stage, shard, kafka_offset, watermark_ms, written_at", func(batch driver.Batch) error {
		for _, r := range rows {
			if err := batch.Append(r.Stage, uint16(r.Shard), r.Offset, r.At.UnixMilli(), now); err != nil {
				return err
			}
		}
		return nil
	})
}

// writeIPFailures writes the spray stage's candidates to ip_failures (per-IP
// evidence) or window_ip_failures (its rebuild; see migration 0006).
func (s *Store) writeIPFailures(ctx context.Context, table string, rows []sinks.IPFailureRecord) error {
	return s.send(ctx, table, "ip, created_at, identity, created_ms, user_key, shard, kafka_offset", func(batch driver.Batch) error {
		for _, r := range rows {
			if err := batch.Append(r.IP, r.At, r.Identity, r.At.UnixMilli(), r.UserKey, uint16(r.Shard), r.Offset); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) send(ctx context.Context, table, columns string, fill func(driver.Batch) error) error {
	batch, err := s.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s (%s)", s.table(table), columns))
	if err != nil {
		return fmt.Errorf("clickhouse: prepare insert into %s: %w", table, classify(err))
	}
	defer batch.Close()
	if err := fill(batch); err != nil {
		return fmt.Errorf("clickhouse: append to %s: %w", table, classifyAppend(err))
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("clickhouse: insert into %s: %w", table, classify(err))
	}
	return nil
}

// writeSignIns stores the columns of a sign-in that windows, counts and
// evidence read; the document goes to signin_docs only (see
// writeSignInDocs), so signins keeps an empty doc column.
func (s *Store) writeSignIns(ctx context.Context, rows []sinks.SignInRecord, version uint64) error {
	const cols = "user_key, created_at, id, created_ms, category, correlation_id, user_id, user_principal_name, " +
		"app_id, app_display_name, ip_address, client_app_used, device, error_code, is_failure, flagged_for_review, shard, kafka_offset, version, doc"
	return s.send(ctx, "signins", cols, func(batch driver.Batch) error {
		for _, r := range rows {
			si := &r.SignIn
			if err := batch.Append(si.UserKey(), si.CreatedDateTime, si.ID, si.CreatedDateTime.UnixMilli(),
				si.Category, si.CorrelationID, si.UserID, strings.ToLower(si.UserPrincipalName),
				si.AppID, si.AppDisplayName, si.IPAddress, si.ClientAppUsed, evidence.Device(si), int32(si.Status.ErrorCode),
				boolByte(r.IsFailure), boolByte(si.FlaggedForReview), uint16(r.Shard), r.Offset, version, ""); err != nil {
				return err
			}
		}
		return nil
	})
}

// writeSignInDocs stores the documents, with the version columns that
// pick the latest and the columns a user search filters on.
func (s *Store) writeSignInDocs(ctx context.Context, rows []sinks.SignInRecord, version uint64) error {
	const cols = "user_key, created_at, category, id, created_ms, version, app_id, app_display_name, doc"
	return s.send(ctx, "signin_docs", cols, func(batch driver.Batch) error {
		for i := range rows {
			si := &rows[i].SignIn
			doc, err := storedDoc(&rows[i])
			if err != nil {
				return err
			}
			if err := batch.Append(si.UserKey(), si.CreatedDateTime, si.Category, si.ID, si.CreatedDateTime.UnixMilli(),
				version, si.AppID, si.AppDisplayName, doc); err != nil {
				return err
			}
		}
		return nil
	})
}

// storedDoc is the document stored for a sign-in: the wire encoding its
// stage produced, or a fresh one.
func storedDoc(r *sinks.SignInRecord) ([]byte, error) {
	if len(r.Doc) > 0 {
		return r.Doc, nil
	}
	doc, err := wire.AppendEvent(nil, &schemas.Event{SignIn: &r.SignIn})
	if err != nil {
		return nil, fmt.Errorf("encode sign-in %s: %w", r.SignIn.ID, err)
	}
	return doc, nil
}

// Secondary key kinds in signin_lookup.
const (
	keyCorrelation = "correlationId"
	keyRequest     = "requestId"
	keyUPN         = "upn"
)

// upnDay is a UPN row of signin_lookup: a UPN, a user key and a day.
type upnDay struct {
	upn, userKey string
	day          int64
}

// writeSignInKeys writes the id keys of every sign-in, and one UPN key per
// user, UPN and day in the batch: the UPN rows only map a UPN to user keys,
// so they carry no sign-in id and a day rather than an instant, and repeats
// collapse when ClickHouse merges them. One row per day, not per batch:
// retention drops a UPN row with its day's partition, so a batch that also
// holds an older sign-in must not date the mapping of newer ones to it.
func (s *Store) writeSignInKeys(ctx context.Context, rows []sinks.SignInRecord) error {
	return s.send(ctx, "signin_lookup", "kind, key, user_key, created_at, signin_id", func(batch driver.Batch) error {
		upns := make(map[upnDay]bool)
		for i := range rows {
			si := &rows[i].SignIn
			userKey := si.UserKey()
			if err := batch.Append(keyRequest, strings.ToLower(si.ID), userKey, si.CreatedDateTime, si.ID); err != nil {
				return err
			}
			if si.CorrelationID != "" {
				if err := batch.Append(keyCorrelation, strings.ToLower(si.CorrelationID), userKey, si.CreatedDateTime, si.ID); err != nil {
					return err
				}
			}
			if si.UserPrincipalName == "" {
				continue
			}
			day := si.CreatedDateTime.Truncate(24 * time.Hour)
			upn := upnDay{strings.ToLower(si.UserPrincipalName), userKey, day.Unix()}
			if upns[upn] {
				continue
			}
			upns[upn] = true
			if err := batch.Append(keyUPN, upn.upn, userKey, day, ""); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) writeFlags(ctx context.Context, b *sinks.Batch, version uint64) error {
	const cols = "user_key, flagged_at, id, signin_id, correlation_id, request_id, flagged_by, version, doc"
	return s.send(ctx, "flags", cols, func(batch driver.Batch) error {
		for _, f := range b.Flags {
			doc, err := json.Marshal(f)
			if err != nil {
				return fmt.Errorf("encode flag %s: %w", f.ID, err)
			}
			if err := batch.Append(f.UserKey(), f.FlaggedAt, f.ID, strings.ToLower(f.SignInID),
				strings.ToLower(f.CorrelationID), strings.ToLower(f.RequestID), f.FlaggedBy, version, string(doc)); err != nil {
				return err
			}
		}
		return nil
	})
}

// completeFindingVersion marks the version of a finding computed over a
// complete window.
const completeFindingVersion = uint64(1) << 62

func (s *Store) writeFindings(ctx context.Context, b *sinks.Batch, version uint64) error {
	const cols = "user_key, occurred_at, id, signin_id, correlation_id, scenario, severity, error_code, failures_48h, version, doc"
	return s.send(ctx, "findings", cols, func(batch driver.Batch) error {
		for _, f := range b.Findings {
			// A finding computed over a complete window outranks one over a
			// partial window (see schemas.Finding.Failures48hPartial): the
			// high bit puts every complete version above every partial one,
			// and within each the later write wins. Write times in Unix
			// nanoseconds stay below 1<<62 until the year 2116.
			v := version
			if !f.Failures48hPartial {
				v |= completeFindingVersion
			}
			doc, err := json.Marshal(f)
			if err != nil {
				return fmt.Errorf("encode finding %s: %w", f.ID, err)
			}
			if err := batch.Append(f.UserKey, f.OccurredAt, f.ID, f.SignInID, f.CorrelationID, f.Scenario,
				f.Severity, int32(f.ErrorCode), uint32(f.Failures48h), v, string(doc)); err != nil {
				return err
			}
		}
		return nil
	})
}

func boolByte(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}
