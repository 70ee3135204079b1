package sqlite

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/signindiag/signindiag/sinks"
)

// dimColumns maps a spike dimension to its signins expression. The store
// holds one row per sign-in, its latest version, so counting rows counts
// distinct sign-ins, each in the bucket of its latest version.
var dimColumns = map[sinks.Dimension]string{
	sinks.DimErrorCode: "CAST(error_code AS TEXT)",
	sinks.DimScenario:  "scenario",
	sinks.DimApp:       "app",
	sinks.DimClientApp: "client_app_used",
	sinks.DimCountry:   "country",
	sinks.DimIP:        "ip_address",
	sinks.DimAll:       "'all'",
}

// failureRows selects the failures in [from, to) as the ClickHouse store
// does on its whole-second created_at; is_failure = 1 lets SQLite use the
// partial index that holds every dimension.
const failureRows = "is_failure = 1 AND created_ms >= ? AND created_ms < ?"

// populationRows selects the rows of a population in [from, to). A
// failure series reads the partial index of failures; the others read the
// sign-ins of the range along signins_time.
func populationRows(of sinks.Population) (string, error) {
	switch of {
	case "", sinks.OfFailures:
		return failureRows, nil
	case sinks.OfSignIns:
		return "created_ms >= ? AND created_ms < ?", nil
	case sinks.OfFindings:
		return "created_ms >= ? AND created_ms < ? AND scenario != ''", nil
	}
	return "", fmt.Errorf("sqlite: %w: unknown population %q", sinks.ErrInvalidQuery, of)
}

// secondsFrom is the first millisecond of the whole seconds at or after t:
// a bound on created_ms equal to ClickHouse's on created_at.
func secondsFrom(t time.Time) int64 {
	s := t.Truncate(time.Second)
	if s.Before(t) {
		s = s.Add(time.Second)
	}
	return s.UnixMilli()
}

func dimension(by sinks.Dimension) (string, error) {
	dim, ok := dimColumns[by]
	if !ok {
		return "", fmt.Errorf("sqlite: %w: unknown dimension %q", sinks.ErrInvalidQuery, by)
	}
	return dim, nil
}

// FailureCounts implements sinks.SpikeSource.
func (s *Store) FailureCounts(ctx context.Context, q sinks.CountQuery) ([]sinks.Count, error) {
	dim, err := dimension(q.By)
	if err != nil {
		return nil, err
	}
	step := int64(q.Step / time.Second)
	if step <= 0 || !q.From.Before(q.To) {
		return nil, fmt.Errorf("sqlite: %w: step %s, range %s to %s", sinks.ErrInvalidQuery, q.Step, q.From, q.To)
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	where, err := populationRows(q.Of)
	if err != nil {
		return nil, err
	}
	args := []any{secondsFrom(q.From), secondsFrom(q.To)}
	if len(q.Within) > 0 {
		ors := make([]string, len(q.Within))
		for i, r := range q.Within {
			ors[i] = "(created_ms >= ? AND created_ms < ?)"
			args = append(args, secondsFrom(r[0]), secondsFrom(r[1]))
		}
		where += " AND (" + strings.Join(ors, " OR ") + ")"
	}
	if len(q.Values) > 0 {
		where += fmt.Sprintf(" AND %s IN (%s)", dim, marks(len(q.Values)))
		args = append(args, anys(q.Values)...)
	}
	rows, err := s.r.QueryContext(ctx, fmt.Sprintf(
		"SELECT (created_ms / 1000 / %d) * %d AS b, %s AS v, COUNT(*) FROM signins WHERE %s GROUP BY b, v",
		step, step, dim, where), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: failure counts by %s: %w", q.By, err)
	}
	defer rows.Close()
	var out []sinks.Count
	for rows.Next() {
		var b int64
		var c sinks.Count
		if err := rows.Scan(&b, &c.Value, &c.Count); err != nil {
			return nil, fmt.Errorf("sqlite: failure counts by %s: %w", q.By, err)
		}
		c.Start = time.Unix(b, 0).UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

// TopValues implements sinks.SpikeSource: the values with the most failed
// sign-ins in [from, to), most first, ties by value.
func (s *Store) TopValues(ctx context.Context, by sinks.Dimension, from, to time.Time, n int) ([]sinks.ValueCount, error) {
	dim, err := dimension(by)
	if err != nil {
		return nil, err
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	rows, err := s.r.QueryContext(ctx, fmt.Sprintf(
		"SELECT %s AS v, COUNT(*) AS n FROM signins WHERE %s GROUP BY v ORDER BY n DESC, v LIMIT %d",
		dim, failureRows, sinks.PageLimit(n)), secondsFrom(from), secondsFrom(to))
	if err != nil {
		return nil, fmt.Errorf("sqlite: top values by %s: %w", by, err)
	}
	defer rows.Close()
	var out []sinks.ValueCount
	for rows.Next() {
		var v sinks.ValueCount
		if err := rows.Scan(&v.Value, &v.Count); err != nil {
			return nil, fmt.Errorf("sqlite: top values by %s: %w", by, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// SpikeContributors implements sinks.SpikeSource: within the failures of
// one value of a dimension in [from, to), the n users, apps, IPs and error
// codes with the most failures (ties by value).
func (s *Store) SpikeContributors(ctx context.Context, by sinks.Dimension, value string, from, to time.Time, n int) (*sinks.Contributors, error) {
	dim, err := dimension(by)
	if err != nil {
		return nil, err
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	rows, err := s.r.QueryContext(ctx, fmt.Sprintf(
		"SELECT user_key, app, ip_address, error_code FROM signins WHERE %s AND %s = ?", failureRows, dim),
		secondsFrom(from), secondsFrom(to), value)
	if err != nil {
		return nil, fmt.Errorf("sqlite: spike contributors for %s=%s: %w", by, value, err)
	}
	defer rows.Close()
	users, apps, ips, codes := map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	for rows.Next() {
		var user, app, ip, code string
		if err := rows.Scan(&user, &app, &ip, &code); err != nil {
			return nil, fmt.Errorf("sqlite: spike contributors for %s=%s: %w", by, value, err)
		}
		users[user]++
		apps[app]++
		ips[ip]++
		codes[code]++
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: spike contributors for %s=%s: %w", by, value, err)
	}
	return &sinks.Contributors{Users: topN(users, n), Apps: topN(apps, n), IPs: topN(ips, n), ErrorCodes: topN(codes, n)}, nil
}

// topN is the n most frequent values, most first, ties by value.
func topN(counts map[string]int, n int) []string {
	out := make([]string, 0, len(counts))
	for v := range counts {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool {
		if counts[out[i]] != counts[out[j]] {
			return counts[out[i]] > counts[out[j]]
		}
		return out[i] < out[j]
	})
	if n >= 0 && len(out) > n {
		out = out[:n]
	}
	return out
}
