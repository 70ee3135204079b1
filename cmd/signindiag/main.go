// Command signindiag diagnoses Entra ID sign-ins continuously: it reads
// sign-in and flag events from Kafka, keeps 48-hour failure windows per
// user, stores sign-ins and findings in ClickHouse and serves them over
// HTTP.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/segmentio/kafka-go"
	"github.com/sethvargo/go-envconfig"
	"golang.org/x/sync/errgroup"

	"github.com/signindiag/signindiag/access"
	"github.com/signindiag/signindiag/health"
	"github.com/signindiag/signindiag/pipeline"
	"github.com/signindiag/signindiag/queryapi"
	"github.com/signindiag/signindiag/rules"
	"github.com/signindiag/signindiag/rules/catalog"
	"github.com/signindiag/signindiag/sinks/clickhouse"
	"github.com/signindiag/signindiag/sinks/retention"
	"github.com/signindiag/signindiag/webui"
)

const usage = `signindiag: the Entra ID sign-in diagnostic, continuously.

Usage:
  signindiag <command> [--help]

Commands:
  run       ingest and serve the API in one process
  ingest    consume Kafka, diagnose sign-ins, store them (with /metrics, /healthz, /readyz)
  serve     serve the query API only
  migrate   apply the ClickHouse schema and exit (run and ingest also do this at start-up)
  loadgen   generate realistic Entra sign-in traffic into Kafka or a file (load tests, demos)

Configuration comes from SIGNINDIAG_* environment variables; see README.md.
`

// commands: what each does, and which parts it runs.
var commands = map[string]struct {
	help          string
	ingest, serve bool
	migrateOnly   bool
}{
	"run":     {help: "Consume sign-in and flag events from Kafka, diagnose them, store them in ClickHouse and serve the query API, in one process.", ingest: true, serve: true},
	"ingest":  {help: "Consume sign-in and flag events from Kafka, diagnose them and store them in ClickHouse. Serves /metrics, /healthz and /readyz.", ingest: true},
	"serve":   {help: "Serve the query API (/v1/..., described by /v1/openapi.json) and the diagnostic page (/) over what ClickHouse holds.", serve: true},
	"migrate": {help: "Apply the embedded ClickHouse migrations to SIGNINDIAG_CLICKHOUSE_DATABASE and exit. Applying them twice is a no-op.", migrateOnly: true},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	name := args[0]
	if name == "loadgen" {
		return runLoadgen(args[1:], stdout, stderr)
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "signindiag: unknown command %q\n\n%s", name, usage)
		return 2
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "Usage: signindiag %s\n\n%s\n\nConfiguration comes from SIGNINDIAG_* environment variables; see README.md.\n", name, cmd.help)
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}

	cfg, err := loadConfig(context.Background(), envconfig.OsLookuper(), cmd.ingest)
	if err != nil {
		fmt.Fprintf(stderr, "signindiag: configuration: %v\n", err)
		return 2
	}
	log := newLogger(stderr, cfg.LogLevel)
	ctx, stop := notifyShutdown(context.Background(), log, os.Exit)
	defer stop()
	if err := start(ctx, cfg, cmd.ingest, cmd.serve, cmd.migrateOnly, log); err != nil {
		log.Error("signindiag stopped", "err", err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(strings.ToUpper(level)))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

func loadCatalog(path string) (*catalog.Catalog, error) {
	cat := catalog.Default()
	if path == "" {
		return cat, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%sRULES_FILE: %w", envPrefix, err)
	}
	overrides, err := catalog.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%sRULES_FILE %s: %w", envPrefix, path, err)
	}
	return cat.Merge(overrides), nil
}

// start runs the parts of one command until ctx ends. Shutdown order: the
// pipeline flushes and commits first, then the HTTP server stops, then the
// store closes.
func start(ctx context.Context, cfg *Config, ingest, serve, migrateOnly bool, log *slog.Logger) error {
	cat, err := loadCatalog(cfg.RulesFile)
	if err != nil {
		return err
	}
	keys, err := access.ParseKeys(string(cfg.API.Keys))
	if err != nil {
		return fmt.Errorf("%sAPI_KEYS: %w", envPrefix, err)
	}
	if serve {
		if err := access.CheckListen(keys, cfg.HTTPAddr); err != nil {
			return err
		}
		if keys.Empty() {
			log.Warn("SIGNINDIAG_API_KEYS is empty: the API has no access control, so it listens on loopback only", "addr", cfg.HTTPAddr)
		}
	}
	store, err := openStore(ctx, cfg.ClickHouse, log)
	if err != nil {
		return err
	}
	defer store.Close()
	if migrateOnly || ingest {
		applied, err := store.Migrate(ctx)
		if err != nil {
			return err
		}
		log.Info("schema up to date", "database", cfg.ClickHouse.Database, "applied", applied)
		if migrateOnly {
			return nil
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	checks := []health.Check{{Name: "clickhouse", Probe: store.Ping, Unready: "ClickHouse does not answer"}}
	if cfg.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", longWrite(pprof.Profile))
	}

	var runner *pipeline.Runner
	if ingest {
		engine := rules.NewEngine(rules.Config{FailureThreshold: cfg.FailureThreshold}, cat)
		runner = pipeline.NewRunner(pipeline.Config{
			Brokers: cfg.Kafka.Brokers, Group: cfg.Kafka.Group,
			SignInTopic: cfg.Kafka.SignInTopic, FlagTopic: cfg.Kafka.FlagTopic,
			DeadLetterTopic: cfg.Kafka.DLQTopic, StorageDeadLetterTopic: cfg.Kafka.StorageDLQTopic,
			KeyedTopic: cfg.Kafka.KeyedTopic, IPTopic: cfg.Kafka.IPTopic,
			Partitions: cfg.Kafka.Partitions, CreateTopics: cfg.Kafka.CreateTopics,
			SessionTimeout:  cfg.Kafka.SessionTimeout,
			MaxMessageBytes: cfg.Kafka.MaxMessageBytes,
			Compression:     cfg.Kafka.Compression,
			EventTime:       cfg.EventTime,
			Window:          cfg.Window, AllowedLateness: cfg.AllowedLateness, FailureThreshold: cfg.FailureThreshold, FutureSkew: cfg.EventTime.MaxClockSkew,
			Fatigue:           cfg.MFAFatigue,
			Spray:             cfg.Spray,
			Loop:              cfg.Loop,
			ReadyFlushFailing: cfg.ReadyFlushFailing,
			ReplicationFactor: cfg.Kafka.ReplicationFactor,
			MaxWindowKeys:     cfg.MaxWindowKeys,
		}, store, engine, cat, pipeline.NewMetrics(reg), log)
		reg.MustRegister(runner.Readiness(), pipeline.KeyBudgetCollector(runner.KeyBudget()))
		checks = append(checks,
			health.Check{Name: "kafka", Probe: kafkaCheck(cfg.Kafka.Brokers), Unready: "no Kafka broker answers"},
			health.Check{Name: "pipeline", Probe: func(context.Context) error { return runner.Ready() }})
	}
	var handler http.Handler = mux
	if serve {
		// API reads on a pool of their own, as large as the number of
		// requests admitted at once: a flood of lookups waits for these
		// connections, never for ingestion's.
		apiCH := cfg.ClickHouse
		apiCH.MaxOpenConns = cfg.API.MaxConcurrent
		apiStore, err := openStore(ctx, apiCH, log)
		if err != nil {
			return err
		}
		defer apiStore.Close()
		queryapi.New(queryapi.Config{Window: cfg.Window, Detections: detections(cfg), IsFailure: cat.IsFailure,
			MaxRange: cfg.API.MaxRange, Metrics: queryapi.NewMetrics(reg)}, apiStore, log).Register(mux)
		webui.Register(mux)
		admission := queryapi.Admission{MaxConcurrent: cfg.API.MaxConcurrent, Timeout: cfg.API.QueryTimeout,
			Rejected: queryapi.NewRejectedCounter(reg)}
		policy := func(r *http.Request) access.Role {
			_, pattern := mux.Handler(r)
			return queryapi.RequiredRole(pattern)
		}
		handler = access.Middleware(keys, policy, admission.Wrap(mux))
	}
	var stages func() any
	if runner != nil {
		stages = func() any { return runner.Readiness().Stages() }
	}
	hc := health.New(log, stages, checks...)
	hc.Register(mux)
	reg.MustRegister(hc)

	server := &http.Server{Addr: cfg.HTTPAddr, Handler: handler, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: cfg.HTTP.ReadTimeout, WriteTimeout: cfg.HTTP.WriteTimeout, IdleTimeout: cfg.HTTP.IdleTimeout}
	tls := cfg.HTTP.TLSCertFile != ""
	g, gctx := errgroup.WithContext(ctx)
	pipelineDone := make(chan struct{})
	if runner != nil {
		g.Go(func() error {
			defer close(pipelineDone)
			return runner.Run(gctx)
		})
		dropped := prometheus.NewCounter(prometheus.CounterOpts{Name: "signindiag_retention_dropped_partitions_total",
			Help: "Time partitions dropped because their data is older than the retention (SIGNINDIAG_RETENTION)."})
		reg.MustRegister(dropped)
		g.Go(func() error {
			retention.Run(gctx, retention.Config{Keep: cfg.EffectiveRetention(), Every: time.Hour}, store, log,
				func(n int) { dropped.Add(float64(n)) })
			return nil
		})
	} else {
		close(pipelineDone)
	}
	g.Go(func() error {
		log.Info("listening", "addr", cfg.HTTPAddr, "tls", tls, "ingest", ingest, "serve", serve)
		var err error
		if tls {
			err = server.ListenAndServeTLS(cfg.HTTP.TLSCertFile, cfg.HTTP.TLSKeyFile)
		} else {
			err = server.ListenAndServe()
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http %s: %w", cfg.HTTPAddr, err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		hc.Drain() // not ready while the pipeline flushes and commits
		<-pipelineDone
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return server.Shutdown(sctx)
	})
	err = g.Wait()
	log.Info("stopped")
	return err
}

// openStore connects to ClickHouse, retrying for a while: in a compose
// stack the server may still be starting.
func openStore(ctx context.Context, cfg clickhouse.Config, log *slog.Logger) (*clickhouse.Store, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		store, err := clickhouse.Open(ctx, cfg, log)
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return store, err
		}
		log.Warn("clickhouse not reachable yet; retrying", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
}

// kafkaCheck is ready when any broker accepts a connection.
func kafkaCheck(brokers []string) func(context.Context) error {
	return func(ctx context.Context) error {
		var errs []error
		for _, b := range brokers {
			conn, err := (&kafka.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, "tcp", b)
			if err == nil {
				_ = conn.Close()
				return nil
			}
			errs = append(errs, err)
		}
		return fmt.Errorf("no broker reachable: %w", errors.Join(errs...))
	}
}

// longWrite lifts the listener's write timeout for a handler that streams
// for as long as asked (a CPU profile of the whole benchmark): its write
// deadline is cleared, and the server is hidden from the request so pprof
// does not refuse a duration longer than SIGNINDIAG_HTTP_WRITE_TIMEOUT.
func longWrite(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
		h(w, r.WithContext(context.WithValue(r.Context(), http.ServerContextKey, nil)))
	}
}
