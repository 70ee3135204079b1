// Command bench-api measures the query API's lookups at size: it loads
// realistic sign-ins (loadgen) straight into a dedicated ClickHouse
// database through the pipeline's stages and the real writer, then runs
// each lookup sequentially through the queryapi handlers and reports
// p50/p99 latency and the rows ClickHouse read for it (system.query_log).
// See BENCHMARKS.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	chstore "github.com/signindiag/signindiag/sinks/clickhouse"
)

type options struct {
	events, users, apps int
	span                time.Duration
	start               time.Time
	flagRate            float64
	database            string
	reuse, loadOnly     bool
	runs                int
	label               string
	jsonOut             string
	only                string
}

func main() {
	var o options
	var start string
	flag.IntVar(&o.events, "events", 10_000_000, "sign-ins to load")
	flag.IntVar(&o.users, "users", 200_000, "users of the tenant (skewed: a few are much busier)")
	flag.IntVar(&o.apps, "apps", 500, "applications of the tenant")
	flag.DurationVar(&o.span, "span", 30*24*time.Hour, "event-time span of the load")
	flag.StringVar(&start, "start", "2026-10-17T00:00:00Z", "event time of the first sign-in (fixed, so a reused database keeps its times)")
	flag.Float64Var(&o.flagRate, "flag-rate", 0.002, "fraction of user sign-ins flagged for review")
	flag.StringVar(&o.database, "database", "signindiag_benchapi", "ClickHouse database to load and query")
	flag.BoolVar(&o.reuse, "reuse", false, "use the sign-ins already in the database instead of loading (it must hold a load)")
	flag.BoolVar(&o.loadOnly, "load-only", false, "load, then stop")
	flag.IntVar(&o.runs, "runs", 200, "requests per lookup")
	flag.StringVar(&o.label, "label", "current", "name of this version in the report")
	flag.StringVar(&o.jsonOut, "json", "", "also write the results as JSON to this file")
	flag.StringVar(&o.only, "only", "", "comma-separated lookups to run (default: all)")
	flag.Parse()
	t, err := time.Parse(time.RFC3339, start)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench-api: -start: %v\n", err)
		os.Exit(2)
	}
	o.start = t.UTC()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	addr := os.Getenv("SIGNINDIAG_CLICKHOUSE_ADDR")
	if addr == "" {
		fmt.Fprintln(os.Stderr, "bench-api: set SIGNINDIAG_CLICKHOUSE_ADDR (make services-up writes it to .services.env)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, addr, log); err != nil {
		log.Error("bench-api failed", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, addr string, log *slog.Logger) error {
	store, err := chstore.Open(ctx, chstore.Config{Addr: addr, Database: o.database, User: "default",
		DialTimeout: 5 * time.Second, QueryTimeout: 10 * time.Minute, Compression: "lz4"}, log)
	if err != nil {
		return err
	}
	defer store.Close()
	conn, err := openConn(ctx, addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	n, err := countSignIns(ctx, conn, o.database)
	if err != nil {
		return err
	}
	switch {
	case o.reuse && n == 0:
		return fmt.Errorf("-reuse: database %s holds no sign-ins; run without -reuse to load it", o.database)
	case !o.reuse && n > 0:
		return fmt.Errorf("database %s already holds %d sign-ins: pass -reuse, or drop it first", o.database, n)
	}
	t0 := time.Now()
	applied, err := store.Migrate(ctx)
	if err != nil {
		return err
	}
	if len(applied) > 0 {
		log.Info("migrated", "applied", applied, "took", time.Since(t0).Round(time.Millisecond))
	}
	if !o.reuse {
		t0 := time.Now()
		if err := load(ctx, o, store, log); err != nil {
			return fmt.Errorf("load: %w", err)
		}
		log.Info("load done", "took", time.Since(t0).Round(time.Second))
	}
	if o.loadOnly {
		return nil
	}
	return measure(ctx, o, store, conn, log)
}
