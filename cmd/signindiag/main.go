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
	"github.com/sethvargo/go-envconfig"
	"golang.org/x/sync/errgroup"

	"github.com/signindiag/signindiag/access"
	"github.com/signindiag/signindiag/health"
	"github.com/signindiag/signindiag/pipeline"
	"github.com/signindiag/signindiag/pipeline/kafkaconn"
	"github.com/signindiag/signindiag/pipeline/spikedetect"
	"github.com/signindiag/signindiag/queryapi"
	"github.com/signindiag/signindiag/rules"
	"github.com/signindiag/signindiag/rules/catalog"
	"github.com/signindiag/signindiag/sinks/retention"
	"github.com/signindiag/signindiag/webui"
)

const usage = `signindiag: the Entra ID sign-in diagnostic, continuously.

Usage:
  signindiag <command> [--help]

Commands:
  demo      run the whole product on generated traffic, with an embedded store: nothing to install
  run       ingest and serve the API in one process (Kafka, or --input FILE...)
  ingest    consume Kafka (or --input FILE...), diagnose sign-ins, store them (with /metrics, /healthz, /readyz)
  serve     serve the query API only
  migrate   apply the store's schema and exit (run and ingest also do this at start-up)
  loadgen   generate realistic Entra sign-in traffic into Kafka or a file (load tests, demos)
  graph-pull  poll Microsoft Graph's sign-in log and publish it to the sign-in topic
  spikes    print the current failure spikes as a table (reads the store)

Configuration comes from SIGNINDIAG_* environment variables; see README.md.
`

// commands: what each does, and which parts it runs.
var commands = map[string]struct {
	synopsis, help string
	ingest, serve  bool
	migrateOnly    bool
}{
	"run": {synopsis: " [--input FILE... [--follow]]", ingest: true, serve: true,
		help: "Consume sign-in and flag events from Kafka (or, with --input, read sign-ins from files), diagnose them, store them and serve the query API and the page, in one process. With --input, a summary is printed once the files are stored, and the API serves on."},
	"ingest": {synopsis: " [--input FILE... [--follow]]", ingest: true,
		help: "Consume sign-in and flag events from Kafka (or, with --input, read sign-ins from files), diagnose them and store them. Serves /metrics, /healthz and /readyz. With --input and no --follow, it exits once the files are stored, after a summary."},
	"serve":   {help: "Serve the query API (/v1/..., described by /v1/openapi.json) and the diagnostic page (/) over what the store holds.", serve: true},
	"migrate": {help: "Apply the store's schema migrations and exit. Applying them twice is a no-op.", migrateOnly: true},
	"demo": {synopsis: " [--signins N] [--seed N]", ingest: true, serve: true,
		help: "Run the whole product with nothing but Go: realistic tenant traffic from the built-in generator through the same stages, into the embedded store in SIGNINDIAG_DATA_DIR (./signindiag-data), with the API and the page on SIGNINDIAG_HTTP_ADDR. Prints ready-made lookups once the traffic is stored. Ctrl-C stops; started again, what it stored is still there."},
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
	if name == "graph-pull" {
		return runGraphPull(args[1:], stdout, stderr)
	}
	if name == "spikes" {
		return runSpikes(args[1:], stdout, stderr) // spikes.go
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "signindiag: unknown command %q\n\n%s", name, usage)
		return 2
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "Usage: signindiag %s%s\n\n%s\n\n", name, cmd.synopsis, cmd.help)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fmt.Fprintln(stdout, "\nConfiguration comes from SIGNINDIAG_* environment variables; see README.md.")
	}
	var inputs stringList
	var follow bool
	var demo demoOptions
	if cmd.ingest && name != "demo" {
		fs.Var(&inputs, "input", "read sign-ins from `FILE` instead of Kafka (JSON lines or JSON documents, as Graph, Event Hubs and Log Analytics export them; - is standard input); more files may follow the flags")
		fs.BoolVar(&follow, "follow", false, "with --input: wait at the end of the last file for more, as tail -f does")
	}
	if name == "demo" {
		demo.register(fs) // demo.go
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	j := job{ingest: cmd.ingest, serve: cmd.serve, migrateOnly: cmd.migrateOnly}
	files := append([]string(inputs), fs.Args()...)
	switch {
	case len(inputs) == 0 && fs.NArg() > 0:
		fmt.Fprintf(stderr, "signindiag %s: unexpected arguments %q (files to read follow --input)\n", name, fs.Args())
		return 2
	case len(files) > 0:
		j.input = &embeddedInput{files: files, follow: follow, exitWhenDone: !cmd.serve, out: stdout}
	case name == "demo":
		j.input = &embeddedInput{traffic: demo.traffic(time.Now()), out: stdout}
	}

	cfg, err := loadConfig(context.Background(), envconfig.OsLookuper(), cmd.ingest && j.input == nil)
	if err != nil {
		fmt.Fprintf(stderr, "signindiag: configuration: %v\n", err)
		return 2
	}
	log := newLogger(stderr, cfg.LogLevel)
	ctx, stop := notifyShutdown(context.Background(), log, os.Exit)
	defer stop()
	if err := start(ctx, cfg, j, log); err != nil {
		log.Error("signindiag stopped", "err", err)
		return 1
	}
	return 0
}

// stringList is a flag given any number of times.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

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

// job is what one invocation runs.
type job struct {
	ingest, serve, migrateOnly bool
	// input, when set, feeds the pipeline in-process (files, the traffic
	// generator) instead of from Kafka (embedded.go).
	input *embeddedInput
}

// start runs the parts of one command until ctx ends. Shutdown order: the
// pipeline flushes and commits first, then the HTTP server stops, then the
// store closes.
func start(ctx context.Context, cfg *Config, j job, log *slog.Logger) error {
	cat, err := loadCatalog(cfg.RulesFile)
	if err != nil {
		return err
	}
	keys, err := access.ParseKeys(string(cfg.API.Keys))
	if err != nil {
		return fmt.Errorf("%sAPI_KEYS: %w", envPrefix, err)
	}
	if j.serve {
		if err := access.CheckListen(keys, cfg.HTTPAddr); err != nil {
			return err
		}
		if keys.Empty() {
			log.Warn("SIGNINDIAG_API_KEYS is empty: the API has no access control, so it listens on loopback only", "addr", cfg.HTTPAddr)
		}
	}
	st, err := openStores(ctx, cfg, j.serve, log)
	if err != nil {
		return err
	}
	defer st.close()
	store := st.ingest
	if j.input != nil {
		j.input.store = st.api
	}
	if j.migrateOnly || j.ingest {
		applied, err := store.Migrate(ctx)
		if err != nil {
			return err
		}
		log.Info("schema up to date", "store", st.name, "applied", applied)
		if j.migrateOnly {
			return nil
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	checks := []health.Check{{Name: st.name, Probe: store.Ping, Unready: st.unready()}}
	if cfg.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", longWrite(pprof.Profile))
		mux.HandleFunc("/debug/pprof/trace", longWrite(pprof.Trace))
	}

	var runner *pipeline.Runner
	var embedded *embeddedPipeline
	if j.ingest {
		var input, internal kafkaconn.Cluster
		var transport pipeline.Transport
		if j.input != nil {
			if embedded, err = newEmbeddedPipeline(cfg, log); err != nil {
				return err
			}
			defer embedded.close()
			transport = embedded.transport
		} else if input, internal, err = cfg.clusters(); err != nil {
			return err
		}
		createInternal := cfg.Kafka.CreateTopics
		if cfg.InternalKafka.Separate() {
			createInternal = cfg.InternalKafka.CreateTopics
		}
		engine := rules.NewEngine(rules.Config{FailureThreshold: cfg.FailureThreshold}, cat)
		runner = pipeline.NewRunner(pipeline.Config{
			Transport: transport,
			Source:    input, Internal: internal, Group: cfg.Kafka.Group,
			SignInTopic: cfg.Kafka.SignInTopic, FlagTopic: cfg.Kafka.FlagTopic,
			DeadLetterTopic: cfg.Kafka.DLQTopic, StorageDeadLetterTopic: cfg.Kafka.StorageDLQTopic,
			KeyedTopic: cfg.Kafka.KeyedTopic, IPTopic: cfg.Kafka.IPTopic,
			Partitions: cfg.Kafka.Partitions, CreateTopics: cfg.Kafka.CreateTopics, CreateInternalTopics: createInternal,
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
		checks = append(checks, health.Check{Name: "pipeline", Probe: func(context.Context) error { return runner.Ready() }})
		if embedded == nil {
			checks = append(checks, health.Check{Name: "kafka", Probe: input.Check, Unready: "no Kafka broker answers"})
		}
		if embedded == nil && cfg.InternalKafka.Separate() {
			checks = append(checks, health.Check{Name: "kafka-internal", Probe: internal.Check, Unready: "no broker of the internal Kafka cluster answers"})
		}
	}
	var handler http.Handler = mux
	if j.serve {
		queryapi.New(queryapi.Config{Window: cfg.Window, Detections: detections(cfg), IsFailure: cat.IsFailure,
			MaxRange: cfg.API.MaxRange, Metrics: queryapi.NewMetrics(reg), Spikes: cfg.Spikes.Rule()}, st.api, log).Register(mux)
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
	if embedded != nil {
		g.Go(func() error { return embedded.feed(gctx, j.input, cfg, reg, log) })
	}
	if j.ingest && cfg.Spikes.Detect {
		det := spikedetect.New(cfg.Spikes.Detector(), store, log, nil).WithMetrics(spikedetect.NewMetrics(reg)) // config_spikes.go
		g.Go(func() error { return det.Run(gctx) })
	}
	g.Go(func() error {
		log.Info("listening", "addr", cfg.HTTPAddr, "tls", tls, "ingest", j.ingest, "serve", j.serve)
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
	if errors.Is(err, errInputDone) {
		return nil
	}
	return err
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
