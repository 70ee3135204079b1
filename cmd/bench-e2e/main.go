// Command bench-e2e measures signindiag end to end against the local Kafka
// and ClickHouse (make services-up): it pre-loads a topic with realistic
// tenant traffic from the load generator, starts `signindiag ingest` on
// it, and reports how fast every sign-in became a row in ClickHouse, the
// CPU each process spent per event, and signindiag's peak memory. A paced
// run then sends at a fraction of the measured maximum and reports the
// produce→visible latency. Figures are medians of several runs; see
// BENCHMARKS.md for how to read them.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	var o options
	flag.IntVar(&o.events, "events", 1_000_000, "sign-ins to pre-load per run")
	flag.IntVar(&o.partitions, "partitions", 6, "partitions of the sign-in topic")
	flag.StringVar(&o.shape, "shape", "graph", "graph (one sign-in per message) or eventhubs ({\"records\":[…]} batches)")
	flag.IntVar(&o.recordsPerBatch, "records-per-batch", 100, "sign-ins per Event Hubs message")
	flag.IntVar(&o.runs, "runs", 3, "runs; figures are their medians")
	flag.Float64Var(&o.pacedFraction, "paced", 0.5, "after the throughput runs, a paced run at this fraction of the median rate (0: none)")
	flag.DurationVar(&o.pacedFor, "paced-for", 60*time.Second, "length of the paced run")
	flag.IntVar(&o.pacedRate, "paced-rate", 0, "with -runs 0: the paced run's rate in sign-ins per second")
	flag.StringVar(&o.binary, "binary", "bin/signindiag", "the signindiag binary to measure")
	flag.StringVar(&o.baseline, "baseline", "", "a second signindiag binary (e.g. an earlier version) run in turn with -binary, pair by pair; its internal topics are pre-created with a 64 MiB message limit, as versions before batch sizing needed")
	flag.StringVar(&o.servicesDir, "services-dir", ".services", "where scripts/services-up.sh keeps the pid files")
	flag.StringVar(&o.profile, "cpuprofile", "", "fetch a CPU profile of signindiag during the first run into this file")
	flag.Parse()
	o.brokers = strings.Split(os.Getenv("SIGNINDIAG_KAFKA_BROKERS"), ",")
	o.clickhouse = os.Getenv("SIGNINDIAG_CLICKHOUSE_ADDR")
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if o.brokers[0] == "" || o.clickhouse == "" {
		fmt.Fprintln(os.Stderr, "bench-e2e: set SIGNINDIAG_KAFKA_BROKERS and SIGNINDIAG_CLICKHOUSE_ADDR (make services-up writes them to .services.env)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, log); err != nil {
		log.Error("bench-e2e failed", "err", err)
		os.Exit(1)
	}
}

type options struct {
	events, partitions, recordsPerBatch, runs int
	shape                                     string
	pacedFraction                             float64
	pacedFor                                  time.Duration
	pacedRate                                 int
	binary, baseline, servicesDir, profile    string
	brokers                                   []string
	clickhouse                                string
}

func run(ctx context.Context, o options, log *slog.Logger) error {
	brokerPID, err := readPID(filepath.Join(o.servicesDir, "kafka", "run", "kafka.pid"))
	if err != nil {
		return fmt.Errorf("the local Kafka's pid (make services-up): %w", err)
	}
	chPID, err := readPID(filepath.Join(o.servicesDir, "clickhouse", "clickhouse.pid"))
	if err != nil {
		return fmt.Errorf("the local ClickHouse's pid (make services-up): %w", err)
	}
	fmt.Printf("machine: %s\n", machine())
	fmt.Printf("config: %d sign-ins per run, shape %s, %d partitions, %d runs\n", o.events, o.shape, o.partitions, o.runs)
	var results, baseline []throughput
	var ratios []float64
	for i := range o.runs {
		r, err := throughputRun(ctx, o, o.binary, false, i, brokerPID, chPID, log)
		if err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
		fmt.Printf("run %d: %s\n", i+1, r)
		results = append(results, r)
		if o.baseline == "" {
			continue
		}
		b, err := throughputRun(ctx, o, o.baseline, true, i, brokerPID, chPID, log)
		if err != nil {
			return fmt.Errorf("baseline run %d: %w", i+1, err)
		}
		fmt.Printf("baseline run %d: %s\n", i+1, b)
		baseline = append(baseline, b)
		ratios = append(ratios, r.eventsPerSec/b.eventsPerSec, b.ownCPU/r.ownCPU)
	}
	if len(results) == 0 {
		if o.pacedRate <= 0 {
			return fmt.Errorf("-runs 0 needs -paced-rate")
		}
		return pacedReport(ctx, o, o.pacedRate, log)
	}
	med := medianOf(results)
	fmt.Printf("median: %s\n", med)
	if len(baseline) > 0 {
		fmt.Printf("baseline median: %s\n", medianOf(baseline))
		var speed, cpu []float64
		for i := 0; i < len(ratios); i += 2 {
			speed, cpu = append(speed, ratios[i]), append(cpu, ratios[i+1])
		}
		slices.Sort(speed)
		slices.Sort(cpu)
		fmt.Printf("pair by pair, median: %.2fx the baseline's events/s, %.2fx less signindiag CPU per event\n",
			speed[len(speed)/2], cpu[len(cpu)/2])
	}
	if o.pacedFraction > 0 {
		return pacedReport(ctx, o, int(med.eventsPerSec*o.pacedFraction), log)
	}
	return nil
}

func pacedReport(ctx context.Context, o options, rate int, log *slog.Logger) error {
	lat, err := pacedRun(ctx, o, rate, log)
	if err != nil {
		return fmt.Errorf("paced run: %w", err)
	}
	fmt.Printf("paced at %d events/s for %s: produce→visible p50 %.2fs p99 %.2fs over %d sign-ins\n",
		rate, o.pacedFor, lat.p50, lat.p99, lat.n)
	return nil
}

// throughput is one run's figures.
type throughput struct {
	events                        int
	seconds                       float64
	eventsPerSec                  float64
	ownCPU, brokerCPU, chCPU      float64 // CPU-µs per event
	peakRSSMiB                    float64
	preloadSeconds, preloadPerSec float64
}

func (t throughput) String() string {
	return fmt.Sprintf("%d sign-ins in %.1fs = %.0f events/s; CPU-µs/event: signindiag %.1f, Kafka %.1f, ClickHouse %.1f; signindiag peak RSS %.0f MiB (pre-load %.1fs, %.0f events/s)",
		t.events, t.seconds, t.eventsPerSec, t.ownCPU, t.brokerCPU, t.chCPU, t.peakRSSMiB, t.preloadSeconds, t.preloadPerSec)
}

func medianOf(rs []throughput) throughput {
	pick := func(f func(throughput) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return throughput{
		events:         rs[0].events,
		seconds:        pick(func(r throughput) float64 { return r.seconds }),
		eventsPerSec:   pick(func(r throughput) float64 { return r.eventsPerSec }),
		ownCPU:         pick(func(r throughput) float64 { return r.ownCPU }),
		brokerCPU:      pick(func(r throughput) float64 { return r.brokerCPU }),
		chCPU:          pick(func(r throughput) float64 { return r.chCPU }),
		peakRSSMiB:     pick(func(r throughput) float64 { return r.peakRSSMiB }),
		preloadSeconds: pick(func(r throughput) float64 { return r.preloadSeconds }),
		preloadPerSec:  pick(func(r throughput) float64 { return r.preloadPerSec }),
	}
}
