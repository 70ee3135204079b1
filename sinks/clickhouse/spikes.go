package clickhouse

import (
	"context"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/signindiag/signindiag/sinks"
)

// SignInHash is signin_facts.sid: FNV-1a 64 of a sign-in's identity
// (category/id). A UInt64 makes the per-sign-in deduplication of a count
// several times cheaper than on the id strings. Two distinct sign-ins
// collide with probability about n²/2⁶⁵ (10⁻⁶ for ten million sign-ins in
// one query), and a collision only matters when both are failures in the
// same range; we accept that.
func SignInHash(identity string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(identity))
	return h.Sum64()
}

// FactColumns are signin_facts' columns in the order addFacts (and
// tools that bulk-load the table) append them.
const FactColumns = "is_failure, created_at, sid, created_ms, error_code, scenario, app, client_app, country, ip, user_key, version"

// FactRow is one signin_facts row: a sign-in version as the spike
// queries count it.
type FactRow struct {
	IsFailure bool
	At        time.Time
	SID       uint64 // SignInHash(identity)
	ErrorCode int32
	Scenario  string
	App       string
	ClientApp string
	Country   string
	IP        string
	UserKey   string
}

// FactOf is the signin_facts row of a stored sign-in, with the scenario of
// its diagnosis ("" when none).
func FactOf(r *sinks.SignInRecord, scenario string) FactRow {
	si := &r.SignIn
	app := si.AppDisplayName
	if app == "" {
		app = si.AppID
	}
	return FactRow{IsFailure: r.IsFailure, At: si.CreatedDateTime, SID: SignInHash(si.Identity()), ErrorCode: int32(si.Status.ErrorCode),
		Scenario: scenario, App: app, ClientApp: si.ClientAppUsed, Country: si.Location.CountryOrRegion, IP: si.IPAddress, UserKey: si.UserKey()}
}

// WriteFacts writes signin_facts rows alone: for tools that load the
// table by itself (cmd/bench-spikes). Write writes them with the rest.
func (s *Store) WriteFacts(ctx context.Context, rows []FactRow) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	version := uint64(time.Now().UnixNano())
	return s.send(ctx, "signin_facts", FactColumns, func(batch driver.Batch) error {
		for i := range rows {
			if err := appendFact(batch, &rows[i], version); err != nil {
				return err
			}
		}
		return nil
	})
}

func appendFact(batch driver.Batch, f *FactRow, version uint64) error {
	return batch.Append(boolByte(f.IsFailure), f.At, f.SID, f.At.UnixMilli(), f.ErrorCode, f.Scenario, f.App, f.ClientApp,
		f.Country, f.IP, f.UserKey, version)
}

// addFacts adds the narrow row of every sign-in of the batch, with the
// scenario of its diagnosis when the batch holds one (a sign-in gets at
// most one, in the same batch).
func addFacts(insert driver.Batch, b *sinks.Batch, version uint64) error {
	scenarios := make(map[string]string, len(b.Findings))
	for i := range b.Findings {
		scenarios[b.Findings[i].SignInID] = b.Findings[i].Scenario
	}
	for i := range b.SignIns {
		f := FactOf(&b.SignIns[i], scenarios[b.SignIns[i].SignIn.ID])
		if err := appendFact(insert, &f, version); err != nil {
			return err
		}
	}
	return nil
}

// factColumns maps a spike dimension to its signin_facts expression.
var factColumns = map[sinks.Dimension]string{
	sinks.DimErrorCode: "toString(error_code)",
	sinks.DimScenario:  "scenario",
	sinks.DimApp:       "app",
	sinks.DimClientApp: "client_app",
	sinks.DimCountry:   "country",
	sinks.DimIP:        "ip",
	sinks.DimAll:       "'all'",
}

// failureRows selects the failure rows in [from, to): they come first in
// the table's order, so a query reads only them, a twentieth of the
// table or less.
const failureRows = "is_failure = 1 AND created_at >= ? AND created_at < ?"

// populationRows selects the rows of a population in [from, to): every
// population starts with is_failure, the sorting key's first column, so
// a failure series still reads only the failure rows.
func populationRows(of sinks.Population) (string, error) {
	switch of {
	case "", sinks.OfFailures:
		return failureRows, nil
	case sinks.OfSignIns:
		return "is_failure IN (0, 1) AND created_at >= ? AND created_at < ?", nil
	case sinks.OfFindings:
		return "is_failure IN (0, 1) AND created_at >= ? AND created_at < ? AND scenario != ''", nil
	}
	return "", fmt.Errorf("clickhouse: %w: unknown population %q", sinks.ErrInvalidQuery, of)
}

// FailureCounts implements sinks.SpikeSource: per bucket and value, the
// number of distinct sign-ins (uniqExact of sid) among the failure rows.
// A replayed row, or one ReplacingMergeTree has not collapsed yet, has
// the same sid and bucket, so it never counts twice; a sign-in whose
// earlier version was an interrupt (not a failure) counts once, with its
// failure. See docs/spikes.md for why this and not a per-sign-in argMax.
func (s *Store) FailureCounts(ctx context.Context, q sinks.CountQuery) ([]sinks.Count, error) {
	dim, ok := factColumns[q.By]
	if !ok {
		return nil, fmt.Errorf("clickhouse: %w: unknown dimension %q", sinks.ErrInvalidQuery, q.By)
	}
	step := int64(q.Step / time.Second)
	if step <= 0 || !q.From.Before(q.To) {
		return nil, fmt.Errorf("clickhouse: %w: step %s, range %s to %s", sinks.ErrInvalidQuery, q.Step, q.From, q.To)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	args := []any{q.From, q.To}
	where, err := populationRows(q.Of)
	if err != nil {
		return nil, err
	}
	if len(q.Within) > 0 {
		ors := make([]string, len(q.Within))
		for i, r := range q.Within {
			ors[i] = "(created_at >= ? AND created_at < ?)"
			args = append(args, r[0], r[1])
		}
		where += " AND (" + strings.Join(ors, " OR ") + ")"
	}
	if len(q.Values) > 0 {
		vals := make([]any, len(q.Values))
		for i, v := range q.Values {
			vals[i] = v
		}
		where += fmt.Sprintf(" AND %s IN ?", dim)
		args = append(args, ch.GroupSet{Value: vals})
	}
	query := fmt.Sprintf(`SELECT intDiv(toUInt32(created_at), %d) * %d AS b, %s AS fv, uniqExact(sid) FROM %s WHERE %s GROUP BY b, fv`,
		step, step, dim, s.table("signin_facts"), where)
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: failure counts by %s: %w", q.By, err)
	}
	defer rows.Close()
	var out []sinks.Count
	for rows.Next() {
		var b uint64
		var c sinks.Count
		var n uint64
		if err := rows.Scan(&b, &c.Value, &n); err != nil {
			return nil, fmt.Errorf("clickhouse: failure counts by %s: %w", q.By, err)
		}
		c.Start, c.Count = time.Unix(int64(b), 0).UTC(), int(n)
		out = append(out, c)
	}
	return out, rows.Err()
}

// TopValues implements sinks.SpikeSource: the values of a dimension with
// the most distinct failed sign-ins in [from, to), most first (ties by
// value).
func (s *Store) TopValues(ctx context.Context, by sinks.Dimension, from, to time.Time, n int) ([]sinks.ValueCount, error) {
	dim, ok := factColumns[by]
	if !ok {
		return nil, fmt.Errorf("clickhouse: %w: unknown dimension %q", sinks.ErrInvalidQuery, by)
	}
	n = sinks.PageLimit(n)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	query := fmt.Sprintf(`SELECT %s AS fv, uniqExact(sid) AS n FROM %s WHERE %s GROUP BY fv ORDER BY n DESC, fv LIMIT %d`,
		dim, s.table("signin_facts"), failureRows, n)
	rows, err := s.conn.Query(ctx, query, from, to)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: top values by %s: %w", by, err)
	}
	defer rows.Close()
	var out []sinks.ValueCount
	for rows.Next() {
		var v sinks.ValueCount
		var c uint64
		if err := rows.Scan(&v.Value, &c); err != nil {
			return nil, fmt.Errorf("clickhouse: top values by %s: %w", by, err)
		}
		v.Count = int(c)
		out = append(out, v)
	}
	return out, rows.Err()
}

// SpikeContributors implements sinks.SpikeSource: within the failures of
// one value of a dimension in [from, to), the n users, apps, IPs and
// error codes with the most failures.
func (s *Store) SpikeContributors(ctx context.Context, by sinks.Dimension, value string, from, to time.Time, n int) (*sinks.Contributors, error) {
	dim, ok := factColumns[by]
	if !ok {
		return nil, fmt.Errorf("clickhouse: %w: unknown dimension %q", sinks.ErrInvalidQuery, by)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	// One row per sign-in (LIMIT 1 BY sid), so a replay does not weigh
	// twice; topK is approximate on large sets, but a spike's failures are
	// few enough for it to be exact in practice, and these are hints.
	query := fmt.Sprintf(`SELECT topK(%d)(user_key), topK(%d)(app), topK(%d)(ip), topK(%d)(toString(error_code)) FROM (
		SELECT sid, user_key, app, ip, error_code FROM %s WHERE %s AND %s = ? LIMIT 1 BY sid)`,
		n, n, n, n, s.table("signin_facts"), failureRows, dim)
	args := []any{from, to, value}
	c := &sinks.Contributors{}
	if err := s.conn.QueryRow(ctx, query, args...).Scan(&c.Users, &c.Apps, &c.IPs, &c.ErrorCodes); err != nil {
		return nil, fmt.Errorf("clickhouse: spike contributors for %s=%s: %w", by, value, err)
	}
	return c, nil
}

// FactsExtent reports the event-time range and row count of signin_facts
// (rows as stored, before deduplication): for benchmarks and tools.
func (s *Store) FactsExtent(ctx context.Context) (first, last time.Time, rows uint64, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	err = s.conn.QueryRow(ctx, "SELECT min(created_at), max(created_at), count() FROM "+s.table("signin_facts")).Scan(&first, &last, &rows)
	if err != nil {
		return first, last, rows, fmt.Errorf("clickhouse: extent of signin_facts: %w", err)
	}
	return first.UTC(), last.UTC(), rows, nil
}

// DropDatabase drops the configured database and everything in it: for
// benchmarks that load a throwaway database.
func (s *Store) DropDatabase(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	if err := s.conn.Exec(ctx, "DROP DATABASE IF EXISTS "+s.cfg.Database); err != nil {
		return fmt.Errorf("clickhouse: drop database %s: %w", s.cfg.Database, err)
	}
	return nil
}
