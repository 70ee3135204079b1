package clickhouse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
//
// The partition workers flush at the same moments: the batches that meet
// are written together (sinks/groupcommit), one insert per table for all
// of them, so ClickHouse makes a part per table and flush round rather
// than per worker. A batch with rows ClickHouse refuses is then written
// again alone, so its error stays its own.
func (s *Store) Write(ctx context.Context, b *sinks.Batch) error {
	if b.Len() == 0 && len(b.Watermarks) == 0 {
		return nil
	}
	if err := checkRows(b); err != nil {
		return fmt.Errorf("clickhouse: %w", err)
	}
	return s.group.Write(ctx, b, func(ctx context.Context, batches []*sinks.Batch) (bool, error) {
		err := s.writeBatches(ctx, batches)
		return errors.Is(err, sinks.ErrRejected), err
	})
}

// writeBatches stores batches together; each gets a version of its own,
// in queue order.
func (s *Store) writeBatches(ctx context.Context, batches []*sinks.Batch) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	version := uint64(time.Now().UnixNano())
	// The tables are written at the same time, each over its own
	// connection: a flush then takes as long as its largest insert, not
	// the sum of all, which is most of the pipeline's produce→visible time.
	g, gctx := errgroup.WithContext(ctx)
	for _, t := range tableWrites {
		if !slices.ContainsFunc(batches, t.has) {
			continue
		}
		g.Go(func() error {
			return s.send(gctx, t.table, t.columns, func(insert driver.Batch) error {
				for i, b := range batches {
					if err := t.add(insert, b, version+uint64(i)); err != nil {
						return err
					}
				}
				return nil
			})
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	// Pairing needs both sides stored first (flaghits.go).
	return s.writeFlagHits(ctx, batches, version)
}

// tableWrite is one table's insert: which batches have rows for it, and
// how a batch's rows are added to the insert.
type tableWrite struct {
	table, columns string
	has            func(b *sinks.Batch) bool
	add            func(insert driver.Batch, b *sinks.Batch, version uint64) error
}

// tableWrites are the tables a batch is written to.
var tableWrites = []tableWrite{
	{"signins", signInColumns, hasSignIns, addSignIns},
	{"signin_docs", signInDocColumns, hasSignIns, addSignInDocs},
	{"signin_lookup", "kind, key, user_key, created_at, signin_id", hasSignIns, addSignInKeys},
	{"window_failures", "shard, created_at, created_ms, user_key, category, id, error_code, app_id, device, kafka_offset",
		hasFailures, addWindowFailures},
	{"signin_facts", FactColumns, hasSignIns, addFacts}, // spikes.go
	{"window_marks", "stage, shard, kafka_offset, watermark_ms, written_at",
		func(b *sinks.Batch) bool { return len(b.Watermarks) > 0 }, addWatermarks},
	{"flags", flagColumns, func(b *sinks.Batch) bool { return len(b.Flags) > 0 }, addFlags},
	{"findings", findingColumns, func(b *sinks.Batch) bool { return len(b.Findings) > 0 }, addFindings},
	{"ip_failures", ipFailureColumns, hasIPFailures, addIPFailures},
	{"window_ip_failures", ipFailureColumns, hasIPFailures, addIPFailures},
	{"incidents", incidentColumns, func(b *sinks.Batch) bool { return len(b.Incidents) > 0 }, addIncidents}, // incidents.go
}

func hasSignIns(b *sinks.Batch) bool { return len(b.SignIns) > 0 }

func hasFailures(b *sinks.Batch) bool {
	return slices.ContainsFunc(b.SignIns, func(r sinks.SignInRecord) bool { return r.IsFailure })
}

func hasIPFailures(b *sinks.Batch) bool { return len(b.IPFailures) > 0 }

// addWindowFailures adds the failed sign-ins again, narrow, for the
// window rebuild (see migration 0006).
func addWindowFailures(insert driver.Batch, b *sinks.Batch, _ uint64) error {
	for i := range b.SignIns {
		r := &b.SignIns[i]
		if !r.IsFailure {
			continue
		}
		si := &r.SignIn
		if err := insert.Append(uint16(r.Shard), si.CreatedDateTime, si.CreatedDateTime.UnixMilli(), si.UserKey(), si.Category, si.ID,
			int32(si.Status.ErrorCode), si.AppID, evidence.Device(si), r.Offset); err != nil {
			return err
		}
	}
	return nil
}

func addWatermarks(insert driver.Batch, b *sinks.Batch, _ uint64) error {
	now := time.Now().UTC()
	for _, r := range b.Watermarks {
		if err := insert.Append(r.Stage, uint16(r.Shard), r.Offset, r.At.UnixMilli(), now); err != nil {
			return err
		}
	}
	return nil
}

// The spray stage's candidates go to ip_failures (per-IP evidence) and
// window_ip_failures (its rebuild; see migration 0006).
const ipFailureColumns = "ip, created_at, identity, created_ms, user_key, shard, kafka_offset"

func addIPFailures(insert driver.Batch, b *sinks.Batch, _ uint64) error {
	for _, r := range b.IPFailures {
		if err := insert.Append(r.IP, r.At, r.Identity, r.At.UnixMilli(), r.UserKey, uint16(r.Shard), r.Offset); err != nil {
			return err
		}
	}
	return nil
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

// signins holds the columns of a sign-in that windows, counts and
// evidence read; the document goes to signin_docs only (addSignInDocs), so
// signins keeps an empty doc column.
const signInColumns = "user_key, created_at, id, created_ms, category, correlation_id, user_id, user_principal_name, " +
	"app_id, app_display_name, ip_address, client_app_used, device, error_code, is_failure, flagged_for_review, shard, kafka_offset, version, doc"

func addSignIns(insert driver.Batch, b *sinks.Batch, version uint64) error {
	for i := range b.SignIns {
		r := &b.SignIns[i]
		si := &r.SignIn
		if err := insert.Append(si.UserKey(), si.CreatedDateTime, si.ID, si.CreatedDateTime.UnixMilli(),
			si.Category, si.CorrelationID, si.UserID, strings.ToLower(si.UserPrincipalName),
			si.AppID, si.AppDisplayName, si.IPAddress, si.ClientAppUsed, evidence.Device(si), int32(si.Status.ErrorCode),
			boolByte(r.IsFailure), boolByte(si.FlaggedForReview), uint16(r.Shard), r.Offset, version, ""); err != nil {
			return err
		}
	}
	return nil
}

// signin_docs holds the documents, with the version columns that pick
// the latest and the columns a user search filters on.
const signInDocColumns = "user_key, created_at, category, id, created_ms, version, app_id, app_display_name, doc"

func addSignInDocs(insert driver.Batch, b *sinks.Batch, version uint64) error {
	for i := range b.SignIns {
		si := &b.SignIns[i].SignIn
		doc, err := storedDoc(&b.SignIns[i])
		if err != nil {
			return err
		}
		if err := insert.Append(si.UserKey(), si.CreatedDateTime, si.Category, si.ID, si.CreatedDateTime.UnixMilli(),
			version, si.AppID, si.AppDisplayName, doc); err != nil {
			return err
		}
	}
	return nil
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

// addSignInKeys adds the id keys of every sign-in, and one UPN key per
// user, UPN and day in the batch: the UPN rows only map a UPN to user keys,
// so they carry no sign-in id and a day rather than an instant, and repeats
// collapse when ClickHouse merges them. One row per day, not per batch:
// retention drops a UPN row with its day's partition, so a batch that also
// holds an older sign-in must not date the mapping of newer ones to it.
func addSignInKeys(insert driver.Batch, b *sinks.Batch, _ uint64) error {
	upns := make(map[upnDay]bool)
	for i := range b.SignIns {
		si := &b.SignIns[i].SignIn
		userKey := si.UserKey()
		if err := insert.Append(keyRequest, strings.ToLower(si.ID), userKey, si.CreatedDateTime, si.ID); err != nil {
			return err
		}
		if si.CorrelationID != "" {
			if err := insert.Append(keyCorrelation, strings.ToLower(si.CorrelationID), userKey, si.CreatedDateTime, si.ID); err != nil {
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
		if err := insert.Append(keyUPN, upn.upn, userKey, day, ""); err != nil {
			return err
		}
	}
	return nil
}

const flagColumns = "user_key, flagged_at, id, signin_id, correlation_id, request_id, flagged_by, version, doc"

func addFlags(insert driver.Batch, b *sinks.Batch, version uint64) error {
	for _, f := range b.Flags {
		doc, err := json.Marshal(f)
		if err != nil {
			return fmt.Errorf("encode flag %s: %w", f.ID, err)
		}
		if err := insert.Append(f.UserKey(), f.FlaggedAt, f.ID, strings.ToLower(f.SignInID),
			strings.ToLower(f.CorrelationID), strings.ToLower(f.RequestID), f.FlaggedBy, version, string(doc)); err != nil {
			return err
		}
	}
	return nil
}

// completeFindingVersion marks the version of a finding computed over a
// complete window.
const completeFindingVersion = uint64(1) << 62

const findingColumns = "user_key, occurred_at, id, signin_id, correlation_id, scenario, severity, error_code, failures_48h, version, doc"

func addFindings(insert driver.Batch, b *sinks.Batch, version uint64) error {
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
		if err := insert.Append(f.UserKey, f.OccurredAt, f.ID, f.SignInID, f.CorrelationID, f.Scenario,
			f.Severity, int32(f.ErrorCode), uint32(f.Failures48h), v, string(doc)); err != nil {
			return err
		}
	}
	return nil
}

func boolByte(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}
