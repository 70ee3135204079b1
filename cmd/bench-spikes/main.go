// Command bench-spikes measures the spike queries at size: it loads
// signin_facts with realistic sign-ins into a throwaway database, then
// times the series the API serves (top values, counts with their baseline
// history, and the spike math) and reports p50/p99.
//
//	bench-spikes -events 10000000 -days 30        # load, measure, drop
//	bench-spikes -keep                            # keep the database for another run
//	bench-spikes -skip-load -keep                 # measure an already loaded database
//
// The server is SIGNINDIAG_CLICKHOUSE_ADDR (default 127.0.0.1:9000).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/signindiag/signindiag/sinks/clickhouse"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench-spikes:", err)
		os.Exit(1)
	}
}

func run() error {
	events := flag.Int("events", 10_000_000, "sign-ins to load")
	days := flag.Int("days", 30, "days the sign-ins span, ending now")
	db := flag.String("database", "bench_spikes", "throwaway database (dropped at the end unless -keep)")
	runs := flag.Int("runs", 30, "timed runs per query shape")
	skipLoad := flag.Bool("skip-load", false, "measure the database as it is")
	keep := flag.Bool("keep", false, "keep the database afterwards")
	flag.Parse()
	if *events <= 0 || *days <= 0 || *runs <= 0 {
		return fmt.Errorf("-events, -days and -runs must be positive")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	addr := os.Getenv("SIGNINDIAG_CLICKHOUSE_ADDR")
	if addr == "" {
		addr = "127.0.0.1:9000"
	}
	cfg := clickhouse.Config{Addr: addr, Database: *db, User: "default", DialTimeout: 5 * time.Second,
		QueryTimeout: 5 * time.Minute, Compression: "lz4"}
	if u := os.Getenv("SIGNINDIAG_CLICKHOUSE_USER"); u != "" {
		cfg.User = u
	}
	cfg.Password = os.Getenv("SIGNINDIAG_CLICKHOUSE_PASSWORD")
	st, err := clickhouse.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	if !*keep {
		defer func() {
			if err := st.DropDatabase(context.Background()); err != nil {
				log.Error("bench-spikes: drop the database", "err", err)
			}
		}()
	}
	if _, err := st.Migrate(ctx); err != nil {
		return err
	}
	if !*skipLoad {
		end := time.Now().UTC().Truncate(time.Hour)
		if err := load(ctx, st, *events, end, time.Duration(*days)*24*time.Hour, log); err != nil {
			return err
		}
	}
	conn, err := ch.Open(&ch.Options{Addr: []string{cfg.Addr}, Auth: ch.Auth{Username: cfg.User, Password: cfg.Password}})
	if err != nil {
		return err
	}
	defer conn.Close()
	ref := func(ctx context.Context) error {
		var n uint64
		return conn.QueryRow(ctx, "SELECT sum(number) FROM numbers(10000000)").Scan(&n)
	}
	return measure(ctx, st, ref, *runs, os.Stdout, log)
}
