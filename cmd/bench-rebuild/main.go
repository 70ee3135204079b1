// Command bench-rebuild measures what a worker taking over partitions
// reads to rebuild its windows, at size: it fills a database with N stored
// sign-ins over 30 days on P partitions (generated inside ClickHouse with
// INSERT … SELECT from numbers(), so loading 10 M rows takes a minute), then
// times, run after run, the rebuild of every partition of one process:
// the current one (window_marks + window_failures, sinks/clickhouse) and,
// as the baseline in the same invocation, the query it replaced (the
// latest event and the failures read from the signins table).
//
//	go run ./cmd/bench-rebuild --rows 10000000 --partitions 6 --runs 7
//
// The documents are left empty: neither query reads them. See BENCHMARKS.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/signindiag/signindiag/sinks/clickhouse"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench-rebuild:", err)
		os.Exit(1)
	}
}

func run() error {
	rows := flag.Int("rows", 10_000_000, "stored sign-ins")
	partitions := flag.Int("partitions", 6, "partitions of the keyed topic (shards)")
	runs := flag.Int("runs", 7, "timed rebuilds of every partition, per variant")
	reuse := flag.Bool("reuse", false, "keep the database of an earlier run with the same --rows")
	keep := flag.Bool("keep", false, "leave the database in place afterwards")
	span := flag.Duration("span", 96*time.Hour, "rebuild span (window + allowed lateness)")
	flag.Parse()

	cfg := clickhouse.Config{Addr: envOr("SIGNINDIAG_CLICKHOUSE_ADDR", "127.0.0.1:9000"), Database: fmt.Sprintf("bench_rebuild_%d", *rows),
		User: envOr("SIGNINDIAG_CLICKHOUSE_USER", "default"), Password: os.Getenv("SIGNINDIAG_CLICKHOUSE_PASSWORD"),
		DialTimeout: 5 * time.Second, QueryTimeout: 10 * time.Minute, Compression: "lz4"}
	ctx := context.Background()
	conn, err := ch.Open(&ch.Options{Addr: []string{cfg.Addr}, Auth: ch.Auth{Username: cfg.User, Password: cfg.Password},
		ReadTimeout: 30 * time.Minute})
	if err != nil {
		return err
	}
	defer conn.Close()
	if !*reuse {
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+cfg.Database); err != nil {
			return err
		}
	}
	store, err := clickhouse.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	defer store.Close()
	if _, err := store.Migrate(ctx); err != nil {
		return err
	}
	if !*keep {
		defer conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+cfg.Database) //nolint:errcheck // best effort
	}
	var have uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+cfg.Database+".signins").Scan(&have); err != nil {
		return err
	}
	if have < uint64(*rows) {
		start := time.Now()
		if err := load(ctx, conn, cfg.Database, *rows, *partitions); err != nil {
			return err
		}
		fmt.Printf("loaded %d sign-ins on %d partitions in %s\n", *rows, *partitions, time.Since(start).Round(time.Second))
	}
	// Every row of each shard is before it, as after a commit that follows
	// a batch's flush (and its mark).
	committed := int64(*rows / *partitions) + 1

	current := func() (int, error) {
		n := 0
		for shard := range *partitions {
			got, err := store.RecentFailures(ctx, shard, committed, *span)
			if err != nil {
				return 0, err
			}
			n += len(got)
		}
		return n, nil
	}
	baseline := func() (int, error) {
		n := 0
		for shard := range *partitions {
			got, err := legacyRecentFailures(ctx, conn, cfg.Database, shard, committed, *span)
			if err != nil {
				return 0, err
			}
			n += got
		}
		return n, nil
	}
	var cur, base []time.Duration
	var nCur, nBase int
	for range *runs { // interleaved, so both see the same machine
		for _, v := range []struct {
			f   func() (int, error)
			out *[]time.Duration
			n   *int
		}{{baseline, &base, &nBase}, {current, &cur, &nCur}} {
			start := time.Now()
			n, err := v.f()
			if err != nil {
				return err
			}
			*v.out = append(*v.out, time.Since(start))
			*v.n = n
		}
	}
	if nCur != nBase {
		return fmt.Errorf("the rebuilds disagree: current read %d failures, baseline %d", nCur, nBase)
	}
	mc, mb := median(cur), median(base)
	fmt.Printf("rebuild of %d partitions, %d failures in the span, %d runs each (median):\n", *partitions, nCur, *runs)
	fmt.Printf("  current  (window_marks + window_failures): %8s  runs %v\n", mc.Round(time.Millisecond), rounded(cur))
	fmt.Printf("  baseline (max + failures from signins):     %8s  runs %v\n", mb.Round(time.Millisecond), rounded(base))
	fmt.Printf("  ratio baseline/current: %.1f×\n", float64(mb)/float64(mc))
	return nil
}

// load generates the stored state of rows sign-ins over 30 days ending
// now, dealt round-robin to the partitions in time order (so offsets grow
// with time on each), about one in three a failure, 200 000 users.
func load(ctx context.Context, conn driver.Conn, db string, rows, partitions int) error {
	const days = 30
	stmts := []string{
		fmt.Sprintf(`INSERT INTO %[1]s.signins (user_key, created_at, id, created_ms, category, correlation_id, user_id, user_principal_name,
			app_id, app_display_name, ip_address, client_app_used, device, error_code, is_failure, flagged_for_review, shard, kafka_offset, version, doc)
			SELECT concat('user', toString(number %% 200000)), toDateTime(intDiv(ms, 1000)), concat('id-', toString(number)), ms, 'interactive',
			  concat('corr-', toString(number)), concat('user', toString(number %% 200000)), '', concat('app-', toString(number %% 500)), 'App',
			  '198.51.100.1', 'Browser', 'Windows', if(cityHash64(number) %% 3 = 0, 50126, 0), if(cityHash64(number) %% 3 = 0, 1, 0), 0,
			  number %% %[2]d, intDiv(number, %[2]d), 1, ''
			FROM (SELECT number, toInt64(toUnixTimestamp(now()) - %[3]d) * 1000 + intDiv(number * %[4]d, %[5]d) AS ms FROM numbers(%[5]d))`,
			db, partitions, days*86400, int64(days)*86400*1000, rows),
		fmt.Sprintf(`INSERT INTO %[1]s.window_failures (shard, created_at, created_ms, user_key, category, id, error_code, app_id, device, kafka_offset)
			SELECT shard, created_at, created_ms, user_key, category, id, error_code, app_id, device, kafka_offset
			FROM %[1]s.signins WHERE is_failure = 1`, db),
		// A mark per 5 000 records of each partition, as batches write them.
		fmt.Sprintf(`INSERT INTO %[1]s.window_marks (stage, shard, kafka_offset, watermark_ms, written_at)
			SELECT 'user', shard, max(kafka_offset), max(created_ms), now()
			FROM %[1]s.signins GROUP BY shard, intDiv(kafka_offset, 5000)`, db),
	}
	for _, s := range stmts {
		if err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("load: %w", err)
		}
	}
	return nil
}

// legacyRecentFailures is the rebuild query before window_failures (the
// baseline): the latest event before the offset, then the failures within
// span of it, both from the signins table.
func legacyRecentFailures(ctx context.Context, conn driver.Conn, db string, shard int, before int64, span time.Duration) (int, error) {
	rows, err := conn.Query(ctx, fmt.Sprintf(
		`SELECT user_key, category, id, created_ms, error_code, app_id, device FROM %[1]s.signins
		 WHERE shard = ? AND kafka_offset < ? AND is_failure = 1
		   AND created_ms > (SELECT max(created_ms) FROM %[1]s.signins WHERE shard = ? AND kafka_offset < ?) - ?
		 ORDER BY created_ms`, db),
		uint16(shard), before, uint16(shard), before, span.Milliseconds())
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var userKey, category, id, app, device string
		var ms int64
		var code int32
		if err := rows.Scan(&userKey, &category, &id, &ms, &code, &app, &device); err != nil {
			return 0, err
		}
		n++
	}
	return n, rows.Err()
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func rounded(d []time.Duration) []time.Duration {
	out := make([]time.Duration, len(d))
	for i, x := range d {
		out[i] = x.Round(time.Millisecond)
	}
	return out
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
