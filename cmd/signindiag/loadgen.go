package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/signindiag/signindiag/loadgen"
	"github.com/signindiag/signindiag/pipeline/kafkaconn"
)

const loadgenHelp = `Usage: signindiag loadgen [flags]

Generate the sign-in traffic of a realistic Entra ID tenant (Graph objects and
Event Hubs envelopes, MFA interrupts, bad passwords, Conditional Access blocks,
lockouts, service principals, an hourly password spray and MFA-fatigue burst,
late and duplicate deliveries) into Kafka, or into files with --out. The same
seed gives the same bytes. Brokers come from SIGNINDIAG_KAFKA_BROKERS.

Flags:
`

// loadgenOptions are the command line of `signindiag loadgen`.
type loadgenOptions struct {
	gen        loadgen.Config
	count      int
	duration   time.Duration
	rate       float64
	brokers    []string
	cluster    kafkaconn.Cluster
	topic      string
	flagTopic  string
	partitions int
	out        string
	flagOut    string
}

func parseLoadgenFlags(args []string, stdout, stderr io.Writer) (*loadgenOptions, error) {
	o := &loadgenOptions{gen: loadgen.DefaultConfig()}
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stdout, loadgenHelp)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
	}
	g := &o.gen
	shape, start := string(g.Shape), "2025-03-04T00:00:00Z"
	fs.IntVar(&o.count, "count", 0, "sign-ins to send (default 100000 unless --duration is given)")
	fs.DurationVar(&o.duration, "duration", 0, "stop after this wall time (0: when --count are sent)")
	fs.Float64Var(&o.rate, "rate", 0, "sign-ins per second (0: as fast as possible)")
	fs.Int64Var(&g.Seed, "seed", g.Seed, "seed: the same seed gives the same stream")
	fs.StringVar(&shape, "shape", shape, "message shape: graph, eventhubs or mixed")
	fs.IntVar(&g.RecordsPerBatch, "records-per-batch", g.RecordsPerBatch, "records per Event Hubs envelope")
	fs.IntVar(&g.Users, "users", g.Users, "users in the tenant")
	fs.IntVar(&g.Apps, "apps", g.Apps, "applications in the tenant")
	fs.DurationVar(&g.Span, "span", g.Span, "event-time range the sign-ins fill")
	fs.StringVar(&start, "start", start, `event time of the first sign-in (RFC 3339, or "now" for now minus --span)`)
	fs.Float64Var(&g.DuplicateRate, "duplicates", g.DuplicateRate, "fraction of messages sent twice")
	fs.Float64Var(&g.LateFraction, "late", g.LateFraction, "fraction of sign-ins delivered late")
	fs.DurationVar(&g.MaxLateness, "max-lateness", g.MaxLateness, "how late a late sign-in may be")
	fs.Float64Var(&g.FlagRate, "flags", g.FlagRate, "fraction of user sign-ins flagged for review")
	fs.DurationVar(&g.BurstEvery, "attack-every", g.BurstEvery, "event time between password sprays and MFA-fatigue bursts (negative: none)")
	fs.StringVar(&o.topic, "topic", envOr("SIGNINDIAG_KAFKA_SIGNIN_TOPIC", "signin-events"), "sign-in topic")
	fs.StringVar(&o.flagTopic, "flag-topic", envOr("SIGNINDIAG_KAFKA_FLAG_TOPIC", "signin-flags"), "flag topic")
	fs.IntVar(&o.partitions, "partitions", 0, "create missing topics with this many partitions (0: create nothing)")
	fs.StringVar(&o.out, "out", "", `write sign-in messages to this file, one per line, instead of Kafka ("-": stdout)`)
	fs.StringVar(&o.flagOut, "flag-out", "", "with --out: write flag messages to this file (default: drop them)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if g.Shape, err = loadgen.ParseShape(shape); err != nil {
		return nil, err
	}
	if start == "now" {
		g.Start = time.Now().UTC().Add(-g.Span)
	} else if g.Start, err = time.Parse(time.RFC3339Nano, start); err != nil {
		return nil, fmt.Errorf("--start: %w", err)
	}
	if o.count < 0 || o.duration < 0 || o.rate < 0 || o.partitions < 0 {
		return nil, errors.New("--count, --duration, --rate and --partitions must not be negative")
	}
	if o.count == 0 && o.duration == 0 {
		o.count = 100_000
	}
	// A count fills the span; a run bounded by time alone is endless.
	g.Count = o.count
	if o.out == "" {
		if v := os.Getenv("SIGNINDIAG_KAFKA_BROKERS"); v != "" {
			o.brokers = strings.Split(v, ",")
		} else {
			return nil, errors.New("SIGNINDIAG_KAFKA_BROKERS is not set (or use --out FILE)")
		}
		c, err := clusterFromEnv(envconfig.OsLookuper(), o.brokers)
		if err != nil {
			return nil, err
		}
		o.cluster = c
	}
	return o, g.Validate()
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// runLoadgen is `signindiag loadgen`.
func runLoadgen(args []string, stdout, stderr io.Writer) int {
	o, err := parseLoadgenFlags(args, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "signindiag loadgen: %v\n", err)
		return 2
	}
	log := newLogger(stderr, os.Getenv("SIGNINDIAG_LOG_LEVEL"))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	s, err := openSink(ctx, o, stdout, log)
	if err != nil {
		log.Error("loadgen: open output", "err", err)
		return 1
	}
	sum, err := sendLoad(ctx, o, s, log)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	fmt.Fprintln(stderrOrStdout(o, stdout, stderr), sum)
	if err != nil {
		log.Error("loadgen stopped", "err", err)
		return 1
	}
	return 0
}

// stderrOrStdout keeps the summary off stdout when the messages go there.
func stderrOrStdout(o *loadgenOptions, stdout, stderr io.Writer) io.Writer {
	if o.out == "-" {
		return stderr
	}
	return stdout
}

// summary is what a run sent.
type summary struct {
	mu         sync.Mutex
	messages   int
	signIns    int
	flags      int
	duplicates int
	bytes      int64
	seconds    float64
}

func (s *summary) add(batch []loadgen.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range batch {
		s.messages++
		s.bytes += int64(len(m.Value))
		switch {
		case m.Duplicate:
			s.duplicates++
		case m.Topic == loadgen.TopicFlags:
			s.flags++
		default:
			s.signIns += len(m.SignInIDs)
		}
	}
}

func (s *summary) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := max(s.seconds, 1e-9)
	return fmt.Sprintf("loadgen: messages=%d signins=%d flags=%d duplicates=%d bytes=%d seconds=%.2f events_per_sec=%.0f mb_per_sec=%.1f",
		s.messages, s.signIns, s.flags, s.duplicates, s.bytes, s.seconds, float64(s.signIns)/sec, float64(s.bytes)/sec/1e6)
}
