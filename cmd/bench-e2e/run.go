package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"

	"github.com/signindiag/signindiag/internal/freeport"
	"github.com/signindiag/signindiag/pipeline/kafkaconn"
	"github.com/signindiag/signindiag/pipeline/source"
)

// names are one run's topics, group and database, unique so that runs
// never see each other's data.
type names struct {
	prefix, signins, flags, group, database string
}

func newNames() names {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	p := "bench" + hex.EncodeToString(b)
	return names{prefix: p, signins: p + "-signins", flags: p + "-flags", group: p, database: p}
}

func (n names) topics() []string {
	return []string{n.signins, n.flags, n.prefix + "-deadletter", n.group + "-keyed-events", n.group + "-keyed-by-ip"}
}

// ingest is a running `signindiag ingest`.
type ingest struct {
	cmd  *exec.Cmd
	addr string
	done chan error
}

func startIngest(o options, binary string, n names, logPath string) (*ingest, error) {
	addr, err := freeport.Addr()
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, "ingest")
	cmd.Env = append(os.Environ(),
		"SIGNINDIAG_HTTP_ADDR="+addr,
		"SIGNINDIAG_KAFKA_SIGNIN_TOPIC="+n.signins,
		"SIGNINDIAG_KAFKA_FLAG_TOPIC="+n.flags,
		"SIGNINDIAG_KAFKA_DLQ_TOPIC="+n.prefix+"-deadletter",
		"SIGNINDIAG_KAFKA_GROUP="+n.group,
		// Named explicitly: versions before derived names used fixed ones.
		"SIGNINDIAG_KAFKA_KEYED_TOPIC="+n.group+"-keyed-events",
		"SIGNINDIAG_KAFKA_IP_TOPIC="+n.group+"-keyed-by-ip",
		fmt.Sprintf("SIGNINDIAG_KAFKA_PARTITIONS=%d", o.partitions),
		"SIGNINDIAG_CLICKHOUSE_DATABASE="+n.database,
		// The pre-load's event times may lie far back (loadgen's default
		// start is in 2025): accept them.
		"SIGNINDIAG_MAX_EVENT_AGE=87600h",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("start %s: %w", binary, err)
	}
	p := &ingest{cmd: cmd, addr: addr, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); _ = logFile.Close() }()
	return p, nil
}

// stop sends SIGTERM and waits for the clean exit.
func (p *ingest) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		return err
	case <-time.After(60 * time.Second):
		_ = p.cmd.Process.Kill()
		return fmt.Errorf("no exit within 60s of SIGTERM")
	}
}

func (p *ingest) exited() error {
	select {
	case err := <-p.done:
		return fmt.Errorf("signindiag exited: %v", err)
	default:
		return nil
	}
}

// metrics returns the text of /metrics.
func (p *ingest) metrics() (string, error) {
	resp, err := http.Get("http://" + p.addr + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// heapProfile fetches a pprof heap profile of the running process.
func (p *ingest) heapProfile(path string) error {
	return p.fetchTo(path, "/debug/pprof/heap")
}

// cpuProfile fetches a pprof CPU profile of the running process.
func (p *ingest) cpuProfile(path string, d time.Duration) error {
	return p.fetchTo(path, fmt.Sprintf("/debug/pprof/profile?seconds=%d", int(d.Seconds())))
}

// fetchTo saves the body of a GET on the process's HTTP address.
func (p *ingest) fetchTo(path, urlPath string) error {
	resp, err := http.Get("http://" + p.addr + urlPath)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s (is SIGNINDIAG_PPROF=true set?)", urlPath, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

func openClickHouse(addr string) (driver.Conn, error) {
	return ch.Open(&ch.Options{Addr: []string{addr}, Auth: ch.Auth{Username: os.Getenv("SIGNINDIAG_CLICKHOUSE_USER"),
		Password: os.Getenv("SIGNINDIAG_CLICKHOUSE_PASSWORD")}})
}

// waitStored polls until the database holds want distinct sign-ins. It
// reads the cheap row count first and counts distinct ids only once the
// rows could suffice (duplicates are rows too until merges collapse them).
func waitStored(ctx context.Context, conn driver.Conn, db string, want int, p *ingest, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		if err := p.exited(); err != nil {
			return time.Time{}, err
		}
		var rows uint64
		if err := conn.QueryRow(ctx, fmt.Sprintf("SELECT count() FROM %s.signins", db)).Scan(&rows); err == nil && rows >= uint64(want) {
			at := time.Now()
			var distinct uint64
			if err := conn.QueryRow(ctx, fmt.Sprintf("SELECT uniqExact(category, id) FROM %s.signins", db)).Scan(&distinct); err != nil {
				return time.Time{}, err
			}
			if distinct >= uint64(want) {
				return at, nil
			}
		}
		if text, err := p.metrics(); err == nil {
			// The generator writes only valid records: a dead letter means
			// the run measures the wrong thing (e.g. event times out of range).
			if n := sumMetric(text, "signindiag_records_deadlettered_total"); n > 0 {
				return time.Time{}, fmt.Errorf("%.0f records were dead-lettered; see the run's log", n)
			}
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("after %s only %d rows of %d sign-ins are stored", timeout, rows, want)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func cleanup(conn driver.Conn, brokers []string, n names, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+n.database); err != nil {
		log.Warn("drop database", "db", n.database, "err", err)
	}
	client := &kafka.Client{Addr: kafka.TCP(brokers...)}
	if _, err := client.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: n.topics()}); err != nil {
		log.Warn("delete topics", "err", err)
	}
}

// throughputRun pre-loads the topic, then times signindiag from start to
// the last sign-in stored.
func throughputRun(ctx context.Context, o options, binary string, isBaseline bool, i, brokerPID, chPID int, log *slog.Logger) (throughput, error) {
	n := newNames()
	conn, err := openClickHouse(o.clickhouse)
	if err != nil {
		return throughput{}, err
	}
	defer conn.Close()
	defer cleanup(conn, o.brokers, n, log)

	loadStart := time.Now()
	unique, err := preload(ctx, o, n, int64(i+1))
	if err != nil {
		return throughput{}, fmt.Errorf("pre-load: %w", err)
	}
	loadSecs := time.Since(loadStart).Seconds()
	if isBaseline {
		// Versions before batch sizing stall on the broker's 1 MiB limit.
		big := map[string]string{"max.message.bytes": "67108864"}
		if err := source.EnsureTopics(ctx, kafkaconn.Plain(o.brokers).Client(0), []source.TopicSpec{
			{Name: n.group + "-keyed-events", Partitions: o.partitions, Configs: big},
			{Name: n.group + "-keyed-by-ip", Partitions: o.partitions, Configs: big},
			{Name: n.prefix + "-deadletter", Partitions: o.partitions, Configs: big}}); err != nil {
			return throughput{}, err
		}
	}

	brokerCPU0, _ := cpuSeconds(brokerPID)
	chCPU0, _ := cpuSeconds(chPID)
	start := time.Now()
	p, err := startIngest(o, binary, n, fmt.Sprintf("%s/bench-e2e-run%d.log", os.TempDir(), i+1))
	if err != nil {
		return throughput{}, err
	}
	defer func() { _ = p.stop() }() // the result is measured; a slow exit is in its log
	if i == 0 && o.profile != "" && !isBaseline {
		go func() {
			time.Sleep(3 * time.Second)
			if err := p.cpuProfile(o.profile, 10*time.Second); err != nil {
				log.Warn("cpu profile", "err", err)
			}
			if err := p.heapProfile(o.profile + ".heap"); err != nil {
				log.Warn("heap profile", "err", err)
			}
		}()
	}
	done, err := waitStored(ctx, conn, n.database, unique, p, 30*time.Minute)
	if err != nil {
		return throughput{}, err
	}
	own, err := cpuSeconds(p.cmd.Process.Pid)
	if err != nil {
		return throughput{}, err
	}
	rss, _ := peakRSSMiB(p.cmd.Process.Pid)
	brokerCPU1, _ := cpuSeconds(brokerPID)
	chCPU1, _ := cpuSeconds(chPID)
	secs := done.Sub(start).Seconds()
	perEvent := func(s float64) float64 { return s / float64(unique) * 1e6 }
	return throughput{events: unique, seconds: secs, eventsPerSec: float64(unique) / secs,
		ownCPU: perEvent(own), brokerCPU: perEvent(brokerCPU1 - brokerCPU0), chCPU: perEvent(chCPU1 - chCPU0),
		peakRSSMiB: rss, preloadSeconds: loadSecs, preloadPerSec: float64(unique) / loadSecs}, nil
}

// latency of a paced run.
type latency struct {
	p50, p99 float64
	n        int
}

// pacedRun starts signindiag on empty topics, then sends at rate for
// o.pacedFor and reads the produce→durable histogram of the diagnose stage.
func pacedRun(ctx context.Context, o options, rate int, log *slog.Logger) (latency, error) {
	n := newNames()
	conn, err := openClickHouse(o.clickhouse)
	if err != nil {
		return latency{}, err
	}
	defer conn.Close()
	defer cleanup(conn, o.brokers, n, log)
	if err := createTopics(ctx, o, n); err != nil {
		return latency{}, err
	}
	p, err := startIngest(o, o.binary, n, os.TempDir()+"/bench-e2e-paced.log")
	if err != nil {
		return latency{}, err
	}
	defer func() { _ = p.stop() }()
	if err := waitReady(ctx, p); err != nil {
		return latency{}, err
	}
	unique, err := send(ctx, o, n, 99, rate, o.pacedFor)
	if err != nil {
		return latency{}, err
	}
	if _, err := waitStored(ctx, conn, n.database, unique, p, 10*time.Minute); err != nil {
		return latency{}, err
	}
	text, err := p.metrics()
	if err != nil {
		return latency{}, err
	}
	h, err := parseHistogram(text, "signindiag_visible_latency_seconds", `stage="diagnose"`)
	if err != nil {
		return latency{}, err
	}
	// Where the time goes: each stage's share and its flushes.
	for _, stage := range []string{"rekey", "diagnose"} {
		v, err1 := parseHistogram(text, "signindiag_visible_latency_seconds", `stage="`+stage+`"`)
		f, err2 := parseHistogram(text, "signindiag_flush_duration_seconds", `stage="`+stage+`"`)
		if err1 == nil && err2 == nil {
			log.Info("paced run", "stage", stage, "produced_to_durable_p50", v.quantile(0.5), "p99", v.quantile(0.99),
				"flush_p50", f.quantile(0.5), "flush_p99", f.quantile(0.99))
		}
	}
	return latency{p50: h.quantile(0.5), p99: h.quantile(0.99), n: int(h.count)}, nil
}

func waitReady(ctx context.Context, p *ingest) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if err := p.exited(); err != nil {
			return err
		}
		resp, err := http.Get("http://" + p.addr + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("signindiag not ready after 2 minutes")
}

// sumMetric adds up every series of a counter in the text format.
func sumMetric(text, name string) float64 {
	total := 0.0
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			var v float64
			if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
				total += v
			}
		}
	}
	return total
}

// histogram is a Prometheus histogram read from the text format.
type histogram struct {
	bounds []float64 // upper bounds, ascending, +Inf last
	counts []float64 // cumulative
	count  float64
}

func parseHistogram(text, name, label string) (histogram, error) {
	var h histogram
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, name+"_bucket{") || !strings.Contains(line, label) {
			continue
		}
		le := line[strings.Index(line, `le="`)+4:]
		le = le[:strings.IndexByte(le, '"')]
		var bound, count float64
		if le == "+Inf" {
			bound = 1e300
		} else if _, err := fmt.Sscan(le, &bound); err != nil {
			return h, err
		}
		if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &count); err != nil {
			return h, err
		}
		h.bounds = append(h.bounds, bound)
		h.counts = append(h.counts, count)
	}
	if len(h.counts) == 0 {
		return h, fmt.Errorf("no %s{%s} in /metrics", name, label)
	}
	h.count = h.counts[len(h.counts)-1]
	return h, nil
}

// quantile interpolates linearly inside the bucket holding q, as
// Prometheus' histogram_quantile does.
func (h histogram) quantile(q float64) float64 {
	rank := q * h.count
	lower, below := 0.0, 0.0
	for i, c := range h.counts {
		if c >= rank {
			upper := h.bounds[i]
			if upper > 1e299 {
				return lower
			}
			if c == below {
				return upper
			}
			return lower + (upper-lower)*(rank-below)/(c-below)
		}
		lower, below = h.bounds[i], c
	}
	return lower
}
