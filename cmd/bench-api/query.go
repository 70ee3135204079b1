package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/signindiag/signindiag/queryapi"
	chstore "github.com/signindiag/signindiag/sinks/clickhouse"
)

func openConn(ctx context.Context, addr string) (driver.Conn, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, DialTimeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	return conn, conn.Ping(ctx)
}

func countSignIns(ctx context.Context, conn driver.Conn, db string) (uint64, error) {
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = 'signins'", db).Scan(&n); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, nil
	}
	err := conn.QueryRow(ctx, "SELECT count() FROM "+db+".signins").Scan(&n)
	return n, err
}

// lookup is one kind of request, with the URLs it cycles through.
type lookup struct {
	name string
	urls []string
}

// result is what one lookup measured.
type result struct {
	Name     string  `json:"name"`
	Requests int     `json:"requests"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
	// Per request: queries, rows read over all of them (median and max).
	Queries        float64 `json:"queries_median"`
	RowsReadMedian float64 `json:"rows_read_median"`
	RowsReadMax    uint64  `json:"rows_read_max"`
	// The single query with the most rows read, with the rows it returned.
	WorstQueryRead   uint64 `json:"worst_query_read_rows"`
	WorstQueryResult uint64 `json:"worst_query_result_rows"`
	WorstQuery       string `json:"worst_query"`
	// Rows in the responses (sign-ins + findings), median.
	ReturnedMedian float64 `json:"returned_median"`
}

// measure picks deterministic targets from the loaded data, runs each
// lookup sequentially through the queryapi handlers, and reads the rows
// ClickHouse read for each request from system.query_log (log_queries is
// enabled per query, under a query id per request).
func measure(ctx context.Context, o options, store *chstore.Store, conn driver.Conn, log *slog.Logger) error {
	lookups, err := targets(ctx, conn, o.database)
	if err != nil {
		return fmt.Errorf("pick targets: %w", err)
	}
	api := queryapi.New(queryapi.Config{Window: 48 * time.Hour}, store, log)
	mux := http.NewServeMux()
	api.Register(mux)
	runID := fmt.Sprintf("benchapi-%s-%d", o.label, time.Now().UnixNano())
	var results []result
	for _, l := range lookups {
		if o.only != "" && !slices.Contains(strings.Split(o.only, ","), l.name) {
			continue
		}
		if len(l.urls) == 0 {
			log.Warn("no targets", "lookup", l.name)
			continue
		}
		for i := 0; i < 3 && i < len(l.urls); i++ { // warm-up, not counted
			if _, _, err := get(ctx, mux, l.urls[i], ""); err != nil {
				return fmt.Errorf("%s: %w", l.name, err)
			}
		}
		var lat []float64
		returned := make([]float64, 0, o.runs)
		for i := 0; i < o.runs; i++ {
			qid := fmt.Sprintf("%s-%s-%d", runID, l.name, i)
			t0 := time.Now()
			n, _, err := get(ctx, mux, l.urls[i%len(l.urls)], qid)
			if err != nil {
				return fmt.Errorf("%s: %w", l.name, err)
			}
			lat = append(lat, float64(time.Since(t0).Microseconds())/1000)
			returned = append(returned, float64(n))
		}
		r := result{Name: l.name, Requests: o.runs, P50ms: quantile(lat, 0.5), P99ms: quantile(lat, 0.99),
			ReturnedMedian: quantile(returned, 0.5)}
		results = append(results, r)
		log.Info("measured", "lookup", l.name, "p50_ms", r.P50ms, "p99_ms", r.P99ms)
	}
	if err := conn.Exec(ctx, "SYSTEM FLUSH LOGS"); err != nil {
		return fmt.Errorf("flush query log: %w", err)
	}
	for i := range results {
		if err := rowsRead(ctx, conn, runID, &results[i]); err != nil {
			return err
		}
	}
	report(os.Stdout, o, results)
	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(map[string]any{"label": o.label, "results": results}, "", "  ")
		if err := os.WriteFile(o.jsonOut, b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// get runs one request; with a query id, ClickHouse logs its queries,
// each under an id of its own that starts with qid and a dash.
func get(ctx context.Context, h http.Handler, u, qid string) (returned int, body []byte, err error) {
	if qid != "" {
		ctx = clickhouse.Context(chstore.WithQueryTag(ctx, qid), clickhouse.WithSettings(clickhouse.Settings{"log_queries": 1}))
	}
	req := httptest.NewRequest(http.MethodGet, u, nil).WithContext(ctx)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ = io.ReadAll(rec.Body)
	if rec.Code != http.StatusOK {
		return 0, body, fmt.Errorf("GET %s: %d %s", u, rec.Code, body)
	}
	var resp struct {
		Summary []json.RawMessage `json:"authenticationSummary"`
		Results []json.RawMessage `json:"diagnosticResults"`
		Flagged []json.RawMessage `json:"flagged"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return 0, body, fmt.Errorf("GET %s: %w", u, err)
	}
	return len(resp.Summary) + len(resp.Results) + len(resp.Flagged), body, nil
}

func rowsRead(ctx context.Context, conn driver.Conn, runID string, r *result) error {
	// A request's queries are named <request id>-<n>: grouped by the id
	// without its last dash-separated part.
	rows, err := conn.Query(ctx, `SELECT substring(query_id, 1, length(query_id) - position(reverse(query_id), '-')) AS request,
		count(), sum(read_rows), max(read_rows), argMax(result_rows, read_rows), argMax(query, read_rows)
		FROM system.query_log WHERE type IN (2, 4) AND query_id LIKE ? GROUP BY request`, runID+"-"+r.Name+"-%")
	if err != nil {
		return fmt.Errorf("read query log: %w", err)
	}
	defer rows.Close()
	var queries, sums []float64
	for rows.Next() {
		var id, q string
		var n, sum, maxRead, result uint64
		if err := rows.Scan(&id, &n, &sum, &maxRead, &result, &q); err != nil {
			return fmt.Errorf("read query log: %w", err)
		}
		queries, sums = append(queries, float64(n)), append(sums, float64(sum))
		if sum > r.RowsReadMax {
			r.RowsReadMax = sum
		}
		if maxRead > r.WorstQueryRead {
			r.WorstQueryRead, r.WorstQueryResult, r.WorstQuery = maxRead, result, oneLine(q)
		}
	}
	r.Queries, r.RowsReadMedian = quantile(queries, 0.5), quantile(sums, 0.5)
	return rows.Err()
}

func oneLine(q string) string {
	q = strings.Join(strings.Fields(q), " ")
	if len(q) > 160 {
		q = q[:160] + "…"
	}
	return q
}

func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

func report(w io.Writer, o options, results []result) {
	fmt.Fprintf(w, "\n%s (%s), %d sequential requests per lookup\n", o.label, o.database, o.runs)
	fmt.Fprintf(w, "| lookup | p50 ms | p99 ms | queries | rows read (median / max per request) | worst query: rows read / returned | rows in response |\n")
	fmt.Fprintf(w, "|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		fmt.Fprintf(w, "| %s | %.1f | %.1f | %.0f | %.0f / %d | %d / %d | %.0f |\n", r.Name, r.P50ms, r.P99ms, r.Queries,
			r.RowsReadMedian, r.RowsReadMax, r.WorstQueryRead, r.WorstQueryResult, r.ReturnedMedian)
	}
	for _, r := range results {
		fmt.Fprintf(w, "worst query of %s: %s\n", r.Name, r.WorstQuery)
	}
}

// targets picks the requests from the loaded data, deterministically (by
// hash), so two versions measured on one database ask the same things.
func targets(ctx context.Context, conn driver.Conn, db string) ([]lookup, error) {
	var ids, corrs, users []string
	rows, err := conn.Query(ctx, fmt.Sprintf(`SELECT id, correlation_id, user_principal_name, created_at FROM %s.signins
		WHERE cityHash64(id) %% 20011 = 17 AND correlation_id != '' AND user_principal_name != ''
		ORDER BY cityHash64(id) LIMIT 100`, db))
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id, corr, upn string
		var at time.Time
		if err := rows.Scan(&id, &corr, &upn, &at); err != nil {
			return nil, err
		}
		ids = append(ids, "/v1/diagnose?requestId="+url.QueryEscape(id))
		corrs = append(corrs, "/v1/diagnose?correlationId="+url.QueryEscape(corr))
		users = append(users, "/v1/diagnose?user="+url.QueryEscape(upn)+"&at="+at.UTC().Format(time.RFC3339))
	}
	_ = rows.Close() // rows.Err reports a read error
	if err := rows.Err(); err != nil {
		return nil, err
	}
	signInIDs := make([]string, len(ids))
	for i, u := range ids {
		signInIDs[i] = strings.Replace(u, "requestId=", "signInId=", 1)
	}
	// Sign-ins of password sprays: failures from a spray's IP within it.
	var sprays []string
	rows, err = conn.Query(ctx, fmt.Sprintf(`SELECT any(s.correlation_id) FROM %s.signins AS s
		ANY INNER JOIN (SELECT key AS ip_address, min(first_at) AS f, max(last_at) AS l FROM %s.incidents
		                WHERE detection = 'password_spray' GROUP BY key ORDER BY key LIMIT 20) AS i USING ip_address
		WHERE s.is_failure = 1 AND s.created_at >= i.f AND s.created_at <= i.l GROUP BY ip_address ORDER BY ip_address`, db, db))
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var corr string
		if err := rows.Scan(&corr); err != nil {
			return nil, err
		}
		sprays = append(sprays, "/v1/diagnose?correlationId="+url.QueryEscape(corr))
	}
	_ = rows.Close() // rows.Err reports a read error
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// The busiest user, at times spread over the load.
	var busyUPN string
	var first, last time.Time
	if err := conn.QueryRow(ctx, fmt.Sprintf(`SELECT any(user_principal_name), min(created_at), max(created_at) FROM %s.signins
		WHERE user_key = (SELECT user_key FROM %s.signins GROUP BY user_key ORDER BY count() DESC LIMIT 1)`, db, db)).Scan(&busyUPN, &first, &last); err != nil {
		return nil, err
	}
	var busy []string
	for i := 0; i < 20; i++ {
		at := first.Add(48*time.Hour + time.Duration(i)*(last.Sub(first)-48*time.Hour)/20)
		busy = append(busy, "/v1/diagnose?user="+url.QueryEscape(busyUPN)+"&at="+at.UTC().Format(time.RFC3339))
	}
	var firstFlag, lastFlag time.Time
	if err := conn.QueryRow(ctx, fmt.Sprintf("SELECT min(flagged_at), max(flagged_at) FROM %s.flags", db)).Scan(&firstFlag, &lastFlag); err != nil {
		return nil, err
	}
	// 25 days back, or as far as the load reaches less a day.
	depth := min(25*24*time.Hour, lastFlag.Sub(firstFlag)-24*time.Hour)
	var back []string
	for i := 0; i < 10; i++ {
		at := lastFlag.Add(-depth + time.Duration(i)*time.Hour)
		back = append(back, "/v1/flagged?before="+url.QueryEscape(at.UTC().Format(time.RFC3339)))
	}
	return []lookup{
		{"correlationId", corrs},
		{"correlationId_spray", sprays},
		{"requestId", ids},
		{"signInId", signInIDs},
		{"user_48h", users},
		{"busiest_user_48h", busy},
		{"flagged_first_page", []string{"/v1/flagged"}},
		{"flagged_25d_back", back},
	}, nil
}
