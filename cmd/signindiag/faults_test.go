package main

// Fault-injection tests of the real binary against the real local Kafka
// and ClickHouse: each feeds a loadgen stream (realistic sign-ins dated
// over the last hours, unkeyed over several partitions) through a fault
// and ends by checking that every generated sign-in is stored exactly once
// after deduplication, that nothing else is stored and that no valid
// record was dead-lettered. Outages are simulated with a TCP proxy between
// signindiag and ClickHouse (the servers are shared: never stopped here).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"

	"github.com/signindiag/signindiag/health"
	"github.com/signindiag/signindiag/loadgen"
	"github.com/signindiag/signindiag/pipeline/deadletter"
	"github.com/signindiag/signindiag/pipeline/kafkaconn"
	"github.com/signindiag/signindiag/pipeline/rekey"
	"github.com/signindiag/signindiag/pipeline/source"
	"github.com/signindiag/signindiag/pipeline/source/kafkatest"
	"github.com/signindiag/signindiag/queryapi"
	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/schemas/wire"
	"github.com/signindiag/signindiag/sinks/clickhouse"
	"github.com/signindiag/signindiag/sinks/clickhouse/clickhousetest"
)

// faultMaxRSS is a generous bound on the process's resident memory under
// every fault: a backlog must wait in Kafka, not in the process.
const faultMaxRSS = 1536 << 20

// faultProxy is the breakable proxy of the readiness tests with two more
// faults on what signindiag sends to ClickHouse: a latency per chunk (a
// server slower than the input) and a stall (every chunk held until
// released: a flush that never ends).
type faultProxy struct {
	*breakableProxy

	latency     func() time.Duration // nil: none
	gate        chan struct{}        // non-nil while stalled; closed on release
	heldInserts atomic.Int64         // INSERT queries held by a stall
	delayed     atomic.Int64         // nanoseconds of latency added
}

func startFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{breakableProxy: &breakableProxy{l: l, target: target, conns: map[net.Conn]struct{}{}}}
	t.Cleanup(func() { l.Close(); p.setBroken(true); p.release() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

// via returns cfg with the proxy as ClickHouse's address.
func (p *faultProxy) via(cfg clickhouse.Config) clickhouse.Config {
	cfg.Addr = p.addr()
	return cfg
}

func (p *faultProxy) serve(c net.Conn) {
	if !p.track(c) {
		c.Close()
		return
	}
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil || !p.track(up) {
		c.Close()
		if up != nil {
			up.Close()
		}
		return
	}
	go func() { p.forward(up, c); up.Close() }()
	_, _ = io.Copy(c, up)
	c.Close()
}

// forward copies signindiag's bytes to ClickHouse chunk by chunk, each
// delayed by the latency and held while the proxy is stalled.
func (p *faultProxy) forward(dst, src net.Conn) {
	buf := make([]byte, 256<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			gate, latency := p.gate, p.latency
			p.mu.Unlock()
			if gate != nil {
				if bytes.Contains(buf[:n], []byte("INSERT INTO")) {
					p.heldInserts.Add(1)
				}
				<-gate
			}
			if latency != nil {
				d := latency()
				time.Sleep(d)
				p.delayed.Add(int64(d))
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// slow delays every chunk by a random time in [lo, hi].
func (p *faultProxy) slow(lo, hi time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latency = func() time.Duration { return lo + rand.N(hi-lo+1) }
}

func (p *faultProxy) stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gate == nil {
		p.gate = make(chan struct{})
	}
}

func (p *faultProxy) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gate != nil {
		close(p.gate)
		p.gate = nil
	}
}

// faultStream is a loadgen stream, held in memory.
type faultStream struct {
	signIns [][]byte // messages of the sign-in topic
	flags   [][]byte
	want    map[string]bool // every sign-in id sent
	cfg     loadgen.Config  // with defaults filled in
}

// genStream generates count sign-ins dated over the 6 hours before now
// (so the default time bounds accept them), edited by mod.
func genStream(t *testing.T, count int, seed int64, mod func(*loadgen.Config)) faultStream {
	t.Helper()
	cfg := loadgen.DefaultConfig()
	cfg.Seed = seed
	cfg.Count = count
	cfg.Start = time.Now().UTC().Add(-6 * time.Hour).Truncate(time.Minute)
	cfg.Span = 6 * time.Hour
	if mod != nil {
		mod(&cfg)
	}
	gen, err := loadgen.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := faultStream{want: make(map[string]bool, count), cfg: gen.Config()}
	for {
		m, ok := gen.Next()
		if !ok {
			break
		}
		for _, id := range m.SignInIDs {
			s.want[id] = true
		}
		if m.Topic == loadgen.TopicFlags {
			s.flags = append(s.flags, m.Value)
		} else {
			s.signIns = append(s.signIns, m.Value)
		}
	}
	if len(s.want) != count {
		t.Fatalf("generator: %d distinct sign-ins, want %d", len(s.want), count)
	}
	return s
}

// faultRun is one test's topics (six input partitions) and database.
type faultRun struct {
	prefix  string
	brokers []string
	ch      clickhouse.Config // direct, never through a proxy
	conn    driver.Conn
}

func newFaultRun(t *testing.T, name string) *faultRun {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	return newFaultRunOn(t, name, kafkatest.Brokers(t))
}

// newFaultRunOn is newFaultRun on the given brokers (a private broker's).
func newFaultRunOn(t *testing.T, name string, brokers []string) *faultRun {
	t.Helper()
	r := &faultRun{prefix: kafkatest.UniqueName(name), brokers: brokers, ch: clickhousetest.Config(t)}
	kafkatest.CreateTopics(t, brokers, 6, r.prefix+"-signins", r.prefix+"-flags")
	t.Cleanup(func() { kafkatest.DeleteTopics(brokers, topicNames(r.prefix)...) })
	r.conn = rawConn(t, r.ch)
	return r
}

// env is the configuration of a process of the run writing to ch.
func (r *faultRun) env(ch clickhouse.Config, extra map[string]string) map[string]string {
	env := processEnv(r.brokers, ch, r.prefix, map[string]string{
		"SIGNINDIAG_BATCH_SIZE":              "500",
		"SIGNINDIAG_FLUSH_INTERVAL":          "300ms",
		"SIGNINDIAG_CLICKHOUSE_DIAL_TIMEOUT": "1s",
	})
	for k, v := range extra {
		env[k] = v
	}
	return env
}

func (r *faultRun) send(t *testing.T, signIns, flags [][]byte) {
	t.Helper()
	if len(signIns) > 0 {
		kafkatest.Produce(t, r.brokers, r.prefix+"-signins", signIns...)
	}
	if len(flags) > 0 {
		kafkatest.Produce(t, r.brokers, r.prefix+"-flags", flags...)
	}
}

func (r *faultRun) stored(t *testing.T) int {
	return int(countDistinct(t, r.conn, r.ch.Database, "signins"))
}

// waitAll waits until every sign-in of want is stored and every stage has
// committed all it read.
func (r *faultRun) waitAll(t *testing.T, want map[string]bool, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, fmt.Sprintf("%d distinct sign-ins stored", len(want)), func() bool {
		return r.stored(t) >= len(want)
	})
	waitDurable(t, r.brokers, r.prefix)
}

// storedSignIns maps every stored sign-in id to its rows after
// deduplication.
func (r *faultRun) storedSignIns(t *testing.T) map[string]uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := r.conn.Query(ctx, fmt.Sprintf("SELECT id, count() FROM %s.signins FINAL GROUP BY id", r.ch.Database))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var id string
		var n uint64
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		out[id] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// assertExactlyOnce: every sign-in of want stored once after
// deduplication, and nothing else.
func (r *faultRun) assertExactlyOnce(t *testing.T, want map[string]bool) {
	t.Helper()
	got := r.storedSignIns(t)
	var missing, extra, dup int
	for id, n := range got {
		switch {
		case !want[id]:
			if extra++; extra <= 5 {
				t.Errorf("stored sign-in %q was never sent", id)
			}
		case n != 1:
			if dup++; dup <= 5 {
				t.Errorf("sign-in %q stored %d times after deduplication", id, n)
			}
		}
	}
	for id := range want {
		if _, ok := got[id]; !ok {
			if missing++; missing <= 5 {
				t.Errorf("sign-in %q lost", id)
			}
		}
	}
	if missing+extra+dup > 0 {
		t.Fatalf("%d sign-ins stored, %d sent: %d lost, %d never sent, %d duplicated", len(got), len(want), missing, extra, dup)
	}
}

func (r *faultRun) deadLetters(t *testing.T) []kafka.Message {
	t.Helper()
	return kafkatest.ReadAll(t, r.brokers, r.prefix+"-dlq")
}

func (r *faultRun) assertNoDeadLetters(t *testing.T) {
	t.Helper()
	if dead := r.deadLetters(t); len(dead) != 0 {
		t.Fatalf("%d valid records dead-lettered, the first with reason %q", len(dead), deadletter.Header(dead[0], deadletter.HeaderReason))
	}
}

// committedOffsets returns group's committed offset of every partition of
// topic (-1: none yet).
func committedOffsets(t *testing.T, brokers []string, group, topic string) map[int]int64 {
	t.Helper()
	out, err := tryCommittedOffsets(brokers, group, topic)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func tryCommittedOffsets(brokers []string, group, topic string) (map[int]int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := source.PartitionCount(ctx, kafkaconn.Plain(brokers).Client(0), topic)
	if err != nil {
		return nil, err
	}
	parts := make([]int, n)
	for p := range n {
		parts[p] = p
	}
	client := &kafka.Client{Addr: kafka.TCP(brokers...)}
	res, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err == nil && res.Error != nil {
		err = res.Error
	}
	if err != nil {
		return nil, fmt.Errorf("offsets of %s on %s: %w", group, topic, err)
	}
	out := map[int]int64{}
	for _, p := range res.Topics[topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("offset of %s on %s/%d: %w", group, topic, p.Partition, p.Error)
		}
		out[p.Partition] = p.CommittedOffset
	}
	return out, nil
}

// groupLag is the records of topic that group has not committed yet; 0
// while the topic or the group is not known yet.
func groupLag(brokers []string, group, topic string) int64 {
	committed, err := tryCommittedOffsets(brokers, group, topic)
	if err != nil {
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var reqs []kafka.OffsetRequest
	for p := range committed {
		reqs = append(reqs, kafka.LastOffsetOf(p))
	}
	client := &kafka.Client{Addr: kafka.TCP(brokers...)}
	ends, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return 0
	}
	var lag int64
	for _, p := range ends.Topics[topic] {
		if p.Error == nil {
			lag += p.LastOffset - max(committed[p.Partition], 0)
		}
	}
	return lag
}

// keyedSignInIDs returns the ids of the sign-ins in partition p of the
// user-keyed topic before offset end.
func keyedSignInIDs(t *testing.T, brokers []string, topic string, p int, end int64) []string {
	t.Helper()
	if end <= 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	if err := r.SetOffset(kafka.FirstOffset); err != nil {
		t.Fatal(err)
	}
	var ids []string
	var ev schemas.Event
	for {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("read %s/%d: %v", topic, p, err)
		}
		if m.Offset >= end {
			return ids
		}
		if err := wire.DecodeEvent(m.Value, &ev); err != nil {
			t.Fatalf("%s/%d@%d: %v", topic, p, m.Offset, err)
		}
		if ev.SignIn != nil {
			ids = append(ids, ev.SignIn.ID)
		}
		if m.Offset == end-1 {
			return ids
		}
	}
}

// rssWatch samples a process's resident memory until stopped.
type rssWatch struct {
	peak atomic.Int64
	stop chan struct{}
	done chan struct{}
}

func watchRSS(t *testing.T, p *process) *rssWatch {
	w := &rssWatch{stop: make(chan struct{}), done: make(chan struct{})}
	path := fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid)
	go func() {
		defer close(w.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if rss, ok := readRSS(path); ok && rss > w.peak.Load() {
				w.peak.Store(rss)
			}
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(w.end)
	return w
}

func (w *rssWatch) end() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// check stops the watch and fails the test if the peak passed the bound.
func (w *rssWatch) check(t *testing.T) {
	t.Helper()
	w.end()
	peak := w.peak.Load()
	t.Logf("peak VmRSS %.0f MiB", float64(peak)/(1<<20))
	if peak == 0 {
		t.Error("VmRSS was never read")
	}
	if peak > faultMaxRSS {
		t.Errorf("peak VmRSS %.0f MiB, above the bound of %.0f MiB", float64(peak)/(1<<20), float64(faultMaxRSS)/(1<<20))
	}
}

// readRSS reads VmRSS, in bytes, from /proc/<pid>/status.
func readRSS(path string) (int64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}

// metricValue reads one series (name and labels, as exposed) from the
// process's /metrics; false when absent or unreachable.
func (p *process) metricValue(series string) (float64, bool) {
	resp, err := http.Get(p.url("/metrics"))
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}

// readyProblems returns /readyz's status code and problems.
func (p *process) readyProblems() (int, []health.Problem) {
	resp, err := http.Get(p.url("/readyz"))
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var st health.Status
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &st)
	return resp.StatusCode, st.Problems
}

// TestFaultClickHouseUnreachable: ClickHouse goes away for 30 seconds in
// the middle of a stream (open connections cut, new ones refused).
// Ingestion into ClickHouse pauses while the rekey stage keeps reading;
// no offset moves past what is stored; /readyz names the stage once the
// bound passes; memory stays bounded; everything arrives once it is back.
func TestFaultClickHouseUnreachable(t *testing.T) {
	r := newFaultRun(t, "fault-down")
	s := genStream(t, 8000, 11, nil)
	proxy := startFaultProxy(t, r.ch.Addr)
	proc := startProcess(t, "ingest", r.env(proxy.via(r.ch), map[string]string{"SIGNINDIAG_READY_FLUSH_FAILING": "3s"}))
	rss := watchRSS(t, proc)
	proc.waitReady(t)

	half := len(s.signIns) / 2
	r.send(t, s.signIns[:half], nil)
	// Break it once every diagnose partition has committed a batch, so
	// that the check of committed against stored below is not vacuous.
	eventually(t, 60*time.Second, "a batch committed on every diagnose partition", func() bool {
		offsets, err := tryCommittedOffsets(r.brokers, r.prefix+"-diagnose", r.prefix+"-keyed")
		for _, off := range offsets {
			if off <= 0 {
				return false
			}
		}
		return err == nil && len(offsets) > 0
	})
	proxy.setBroken(true)
	down := time.Now()
	r.send(t, s.signIns[half:], s.flags)

	eventually(t, 15*time.Second, "/readyz 503 naming the diagnose stage", func() bool {
		code, problems := proc.readyProblems()
		if code != http.StatusServiceUnavailable {
			return false
		}
		for _, p := range problems {
			if p.Check == "pipeline" && p.Stage == "diagnose" && strings.HasPrefix(p.Reason, "flushes failing for ") {
				return true
			}
		}
		return false
	})
	t.Logf("/readyz named the diagnose stage %s after the outage began", time.Since(down).Round(100*time.Millisecond))
	// The rekey stage needs no ClickHouse: it reads the whole input.
	eventually(t, 30*time.Second, "the rekey stage caught up during the outage", func() bool {
		return kafkatest.Caught(t, r.brokers, r.prefix, r.prefix+"-signins") && kafkatest.Caught(t, r.brokers, r.prefix, r.prefix+"-flags")
	})

	// The ClickHouse stages commit nothing while their flushes fail.
	diagnoseGroup, sprayGroup := r.prefix+"-diagnose", r.prefix+"-spray"
	diagnoseAt := committedOffsets(t, r.brokers, diagnoseGroup, r.prefix+"-keyed")
	sprayAt := committedOffsets(t, r.brokers, sprayGroup, r.prefix+"-byip")
	storedAt := r.stored(t)
	for time.Since(down) < 30*time.Second {
		if now := committedOffsets(t, r.brokers, diagnoseGroup, r.prefix+"-keyed"); fmt.Sprint(now) != fmt.Sprint(diagnoseAt) {
			t.Fatalf("the diagnose stage committed %v while ClickHouse was unreachable (was %v)", now, diagnoseAt)
		}
		if now := committedOffsets(t, r.brokers, sprayGroup, r.prefix+"-byip"); fmt.Sprint(now) != fmt.Sprint(sprayAt) {
			t.Fatalf("the spray stage committed %v while ClickHouse was unreachable (was %v)", now, sprayAt)
		}
		if code, _ := proc.readyProblems(); code != http.StatusServiceUnavailable {
			t.Fatalf("/readyz %d while ClickHouse was unreachable", code)
		}
		time.Sleep(500 * time.Millisecond) // sampling an outage of fixed length, not waiting for a condition
	}
	if storedAt >= len(s.want) {
		t.Fatalf("all %d sign-ins were stored before the outage: it hit no stream", storedAt)
	}
	// What is committed is stored: every sign-in before the diagnose
	// group's offsets is in ClickHouse.
	stored := r.storedSignIns(t)
	var before int
	for p, end := range diagnoseAt {
		for _, id := range keyedSignInIDs(t, r.brokers, r.prefix+"-keyed", p, end) {
			before++
			if _, ok := stored[id]; !ok {
				t.Errorf("sign-in %s is before the committed offset %d of partition %d but not stored", id, end, p)
			}
		}
	}
	if before == 0 {
		t.Error("no sign-in before the committed offsets: the check proved nothing")
	}
	t.Logf("%d of %d sign-ins stored when ClickHouse went away; %d sign-ins before the committed offsets %v, all stored",
		storedAt, len(s.want), before, diagnoseAt)

	proxy.setBroken(false)
	back := time.Now()
	r.waitAll(t, s.want, 120*time.Second)
	t.Logf("everything stored %s after ClickHouse came back", time.Since(back).Round(100*time.Millisecond))
	proc.waitReady(t)
	proc.stop()
	rss.check(t)
	r.assertExactlyOnce(t, s.want)
	r.assertNoDeadLetters(t)
}

// TestFaultClickHouseSlowerThanInput: every chunk signindiag sends to
// ClickHouse is delayed by 50-200 ms. The lag grows, memory stays
// bounded, and everything arrives.
func TestFaultClickHouseSlowerThanInput(t *testing.T) {
	r := newFaultRun(t, "fault-slow")
	s := genStream(t, 10000, 12, nil)
	proxy := startFaultProxy(t, r.ch.Addr)
	// Batches of 500: a diagnose loop holds two (one being written, one
	// filling), far less than its partition's share of the stream, so its
	// reader stays behind the high-water mark while the flushes wait, and
	// the lag metric (reported at each flush) shows it. With batches of
	// 2 000 a loop could hold its whole share and report no lag.
	proc := startProcess(t, "ingest", r.env(proxy.via(r.ch), map[string]string{"SIGNINDIAG_BATCH_SIZE": "500"}))
	rss := watchRSS(t, proc)
	proc.waitReady(t)
	proxy.slow(100*time.Millisecond, 300*time.Millisecond)

	start := time.Now()
	r.send(t, s.signIns, s.flags)
	var maxLag int64
	var maxLagMetric float64
	eventually(t, 180*time.Second, fmt.Sprintf("%d distinct sign-ins stored", len(s.want)), func() bool {
		maxLag = max(maxLag, groupLag(r.brokers, r.prefix+"-diagnose", r.prefix+"-keyed"))
		if v, ok := proc.metricValue(`signindiag_stage_lag_records{stage="diagnose"}`); ok {
			maxLagMetric = max(maxLagMetric, v)
		}
		return r.stored(t) >= len(s.want)
	})
	t.Logf("all stored %s after the first was sent; diagnose lag up to %d records (metric up to %.0f)",
		time.Since(start).Round(100*time.Millisecond), maxLag, maxLagMetric)
	// A batch's tables are written in parallel, so the added latency slows
	// each flush less than its chunk count suggests: ask for a tenth.
	if maxLag < int64(len(s.want))/10 || maxLagMetric <= 0 {
		t.Errorf("the diagnose stage's lag never grew: up to %d uncommitted records, metric up to %.0f", maxLag, maxLagMetric)
	}
	waitDurable(t, r.brokers, r.prefix)
	// ClickHouse was slow indeed: the flushes waited for the latency.
	sum, _ := proc.metricValue(`signindiag_flush_duration_seconds_sum{stage="diagnose"}`)
	n, _ := proc.metricValue(`signindiag_flush_duration_seconds_count{stage="diagnose"}`)
	delayed := time.Duration(proxy.delayed.Load())
	t.Logf("%.0f diagnose flushes of %.2fs on average; %s of latency added", n, sum/n, delayed.Round(time.Millisecond))
	if delayed < 3*time.Second {
		t.Errorf("the proxy added only %s of latency", delayed)
	}
	proc.stop()
	rss.check(t)
	r.assertExactlyOnce(t, s.want)
	r.assertNoDeadLetters(t)
}

// TestFaultSIGTERMDuringStalledFlush: ClickHouse stops answering in the
// middle of a flush and the process gets SIGTERM: it exits within its
// shutdown timeout (and a margin), and a restart stores everything once.
func TestFaultSIGTERMDuringStalledFlush(t *testing.T) {
	r := newFaultRun(t, "fault-term")
	s := genStream(t, 6000, 13, nil)
	proxy := startFaultProxy(t, r.ch.Addr)
	const shutdownTimeout, margin = 5 * time.Second, 10 * time.Second
	env := r.env(proxy.via(r.ch), map[string]string{"SIGNINDIAG_SHUTDOWN_TIMEOUT": shutdownTimeout.String()})
	proc := startProcess(t, "ingest", env)
	proc.waitReady(t)

	half := len(s.signIns) / 2
	r.send(t, s.signIns[:half], nil)
	eventually(t, 60*time.Second, "part of the stream stored", func() bool { return r.stored(t) >= len(s.want)/10 })
	proxy.stall()
	r.send(t, s.signIns[half:], s.flags)
	eventually(t, 30*time.Second, "an INSERT held by the stalled ClickHouse", func() bool { return proxy.heldInserts.Load() > 0 })

	if err := proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	term := time.Now()
	select {
	case err := <-proc.done:
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatalf("wait: %v", err)
		}
		if exit != nil && !exit.Exited() {
			t.Fatalf("signindiag ended by %v, not by itself", exit)
		}
		t.Logf("exited %s after SIGTERM (%v), with %d of %d sign-ins stored",
			time.Since(term).Round(100*time.Millisecond), err, r.stored(t), len(s.want))
	case <-time.After(shutdownTimeout + margin):
		proc.dumpLog()
		t.Fatalf("still running %s after SIGTERM with SHUTDOWN_TIMEOUT=%s", shutdownTimeout+margin, shutdownTimeout)
	}

	// ClickHouse back (the dead process's connections cut), and a restart.
	proxy.setBroken(true)
	proxy.release()
	proxy.setBroken(false)
	proc2 := startProcess(t, "ingest", env)
	proc2.waitReady(t)
	r.waitAll(t, s.want, 120*time.Second)
	proc2.stop()
	r.assertExactlyOnce(t, s.want)
	r.assertNoDeadLetters(t)
}

// TestFaultTwoProcessesOneKilled: two `ingest` processes share the
// consumer groups; one is killed (SIGKILL) mid-stream and its partitions
// move to the other. The sign-ins, findings and incidents stored are
// those of a single uninterrupted process fed the same stream.
func TestFaultTwoProcessesOneKilled(t *testing.T) {
	shared, steady := newFaultRun(t, "fault-pair"), newFaultRun(t, "fault-solo")
	s := genStream(t, 6000, 14, nil)
	extra := map[string]string{"SIGNINDIAG_KAFKA_PARTITIONS": "6", "SIGNINDIAG_KAFKA_SESSION_TIMEOUT": "6s"}

	ref := startProcess(t, "ingest", steady.env(steady.ch, extra))
	a := startProcess(t, "ingest", shared.env(shared.ch, extra))
	b := startProcess(t, "ingest", shared.env(shared.ch, extra))
	ref.waitReady(t)
	a.waitReady(t)
	b.waitReady(t)
	for _, stage := range []string{"rekey", "diagnose", "spray"} {
		eventually(t, 60*time.Second, "both processes hold "+stage+" partitions", func() bool {
			va, _ := a.metricValue(`signindiag_partitions_held{stage="` + stage + `"}`)
			vb, _ := b.metricValue(`signindiag_partitions_held{stage="` + stage + `"}`)
			return va > 0 && vb > 0
		})
	}
	steady.send(t, s.signIns, s.flags)

	half := len(s.signIns) / 2
	shared.send(t, s.signIns[:half], nil)
	eventually(t, 60*time.Second, "part of the stream stored", func() bool { return shared.stored(t) >= len(s.want)/10 })
	a.kill()
	killed := time.Now()
	t.Logf("killed one process with %d of %d sign-ins stored", shared.stored(t), len(s.want))
	shared.send(t, s.signIns[half:], s.flags)

	steady.waitAll(t, s.want, 120*time.Second)
	shared.waitAll(t, s.want, 120*time.Second)
	t.Logf("the survivor stored everything %s after the kill", time.Since(killed).Round(100*time.Millisecond))
	// Its input topics have 6 partitions each: the rekey stage reads two.
	for stage, want := range map[string]float64{"rekey": 12, "diagnose": 6, "spray": 6} {
		if v, _ := b.metricValue(`signindiag_partitions_held{stage="` + stage + `"}`); v != want {
			t.Errorf("the survivor holds %.0f %s partitions, want all %.0f", v, stage, want)
		}
	}
	b.stop()
	ref.stop()

	shared.assertExactlyOnce(t, s.want)
	steady.assertExactlyOnce(t, s.want)
	shared.assertNoDeadLetters(t)
	steady.assertNoDeadLetters(t)
	want, got := readState(t, steady.ch), readState(t, shared.ch)
	compareByID(t, "finding", withoutCount(want.findings), withoutCount(got.findings))
	compareByID(t, "incident", want.incidents, got.incidents)
	if len(want.findings) == 0 || len(want.incidents) == 0 {
		t.Errorf("the uninterrupted run stored %d findings and %d incidents: the stream must raise both", len(want.findings), len(want.incidents))
	}
	t.Logf("the uninterrupted run stored %d findings and %d incidents", len(want.findings), len(want.incidents))
}

// withoutCount drops the count from readState's findings: the count at
// the time of a finding depends on the order events met on a partition,
// which differs between two runs over unkeyed input, so runs compare what
// was found about which sign-in.
func withoutCount(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for id, v := range m {
		out[id] = v[:strings.LastIndex(v, "/")]
	}
	return out
}

// compareByID fails for every id whose value differs between want and got.
func compareByID(t *testing.T, what string, want, got map[string]string) {
	t.Helper()
	var bad int
	for id, w := range want {
		if g, ok := got[id]; !ok || g != w {
			if bad++; bad <= 5 {
				t.Errorf("%s %s: %q under the fault, %q uninterrupted", what, id, g, w)
			}
		}
	}
	for id, g := range got {
		if _, ok := want[id]; !ok {
			if bad++; bad <= 5 {
				t.Errorf("%s %s (%s) only under the fault", what, id, g)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d %ss differ", bad, len(want), what)
	}
}

// TestFaultHotIP: one address fails with 50126 for thousands of distinct
// users within a quarter of an hour, amid ordinary traffic. The process
// keeps up, raises one password_spray incident, and every member sign-in
// shows it.
func TestFaultHotIP(t *testing.T) {
	r := newFaultRun(t, "fault-hot")
	s := genStream(t, 5000, 15, func(c *loadgen.Config) { c.BurstEvery = -1 }) // no attacks of loadgen's own
	const hotIP, victims = "100.64.0.77", 3000
	sprayStart := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Second)
	var hot [][]byte
	var hotIDs []string
	for i := range victims {
		id := fmt.Sprintf("hot-%04d", i)
		si := mkSignIn(id, fmt.Sprintf("victim%04d", i), sprayStart.Add(time.Duration(i)*250*time.Millisecond), 50126)
		si.IPAddress = hotIP
		hot = append(hot, graphJSON(t, si))
		hotIDs = append(hotIDs, id)
		s.want[id] = true
	}
	// The spray spread evenly through the ordinary traffic.
	var messages [][]byte
	j := 0
	for i, m := range s.signIns {
		messages = append(messages, m)
		for ; j < len(hot) && j*len(s.signIns) < (i+1)*len(hot); j++ {
			messages = append(messages, hot[j])
		}
	}
	messages = append(messages, hot[j:]...)
	if len(messages) != len(s.signIns)+len(hot) {
		t.Fatalf("interleaving lost messages: %d, want %d", len(messages), len(s.signIns)+len(hot))
	}

	proc := startProcess(t, "run", r.env(r.ch, nil))
	rss := watchRSS(t, proc)
	proc.waitReady(t)
	start := time.Now()
	r.send(t, messages, s.flags)
	r.waitAll(t, s.want, 90*time.Second)
	t.Logf("%d sign-ins (%d from the hot address) stored and committed %s after the first was sent",
		len(s.want), victims, time.Since(start).Round(100*time.Millisecond))

	var list queryapi.IncidentList
	if code, err := proc.getJSON("/v1/incidents?detection=password_spray", &list); err != nil || code != http.StatusOK {
		t.Fatalf("/v1/incidents: %d %v", code, err)
	}
	if len(list.Incidents) != 1 || list.Incidents[0].Key != hotIP || list.Incidents[0].Count != victims ||
		!list.Incidents[0].FirstEventAt.Equal(sprayStart) {
		t.Fatalf("password_spray incidents: %+v; want one of %s with %d members from %s", list.Incidents, hotIP, victims, sprayStart)
	}
	inc := list.Incidents[0]
	for _, i := range []int{0, 1, 4, 5, 100, 1234, victims / 2, victims - 2, victims - 1} {
		var d queryapi.Diagnosis
		if code, err := proc.getJSON("/v1/diagnose?requestId="+url.QueryEscape(hotIDs[i]), &d); err != nil || code != http.StatusOK {
			t.Fatalf("/v1/diagnose %s: %d %v", hotIDs[i], code, err)
		}
		var shows bool
		for _, f := range d.DiagnosticResults {
			shows = shows || f.Scenario == "password_spray" && f.IncidentID == inc.ID
		}
		if !shows {
			t.Errorf("%s does not show the spray %s: %+v", hotIDs[i], inc.ID, d.DiagnosticResults)
		}
	}
	proc.stop()
	rss.check(t)
	r.assertExactlyOnce(t, s.want)
	r.assertNoDeadLetters(t)
}

// TestFaultFutureDatedSignIn: a sign-in dated 2999 first in the stream,
// and another inside an Event Hubs batch of real ones, are dead-lettered
// as time_out_of_range; everything else is stored, and the windowed
// detections of the real events (loadgen's hourly MFA-fatigue bursts and
// password sprays) still fire: the future event moved no watermark.
func TestFaultFutureDatedSignIn(t *testing.T) {
	r := newFaultRun(t, "fault-future")
	s := genStream(t, 4000, 16, func(c *loadgen.Config) { c.Start = c.Start.Add(-time.Hour) })
	future := time.Date(2999, 1, 1, 12, 0, 0, 0, time.UTC)
	near := mkSignIn("near-now", "zoe", time.Now().UTC().Add(-time.Hour), 0)
	s.want[near.ID] = true
	messages := append([][]byte{graphJSON(t, mkSignIn("future-1", "zoe", future, 50126))}, s.signIns...)
	messages = append(messages, envelope(t, schemas.CategoryInteractive, near, mkSignIn("future-2", "zoe", future, 0)))

	proc := startProcess(t, "run", r.env(r.ch, nil))
	proc.waitReady(t)
	r.send(t, messages, s.flags)
	r.waitAll(t, s.want, 90*time.Second)

	var dead []kafka.Message
	eventually(t, 30*time.Second, "two dead letters", func() bool {
		dead = r.deadLetters(t)
		return len(dead) >= 2
	})
	if len(dead) != 2 {
		t.Errorf("%d dead letters, want the two future-dated sign-ins", len(dead))
	}
	for _, m := range dead {
		if reason := deadletter.Header(m, deadletter.HeaderReason); reason != rekey.ReasonTimeOutOfRange {
			t.Errorf("dead letter with reason %q, want %s: %.200s", reason, rekey.ReasonTimeOutOfRange, m.Value)
		}
		if src := deadletter.Header(m, deadletter.HeaderSourceTopic); src != r.prefix+"-signins" || deadletter.Header(m, deadletter.HeaderSourceOffset) == "" {
			t.Errorf("dead letter without its source: topic %q, offset %q", src, deadletter.Header(m, deadletter.HeaderSourceOffset))
		}
		if deadletter.Header(m, deadletter.HeaderError) == "" {
			t.Error("dead letter without its error header")
		}
		if !bytes.Contains(m.Value, []byte("future-")) {
			t.Errorf("dead letter is not a future-dated sign-in: %.200s", m.Value)
		}
	}

	// Loadgen attacks every hour: a spray at +5 minutes, a fatigue burst at
	// +25. The first four periods are complete in any stream of this size.
	incidents := func(detection string) []queryapi.Incident {
		var list queryapi.IncidentList
		if code, err := proc.getJSON("/v1/incidents?detection="+detection, &list); err != nil || code != http.StatusOK {
			t.Fatalf("/v1/incidents: %d %v", code, err)
		}
		return list.Incidents
	}
	fatigue, sprays := incidents("mfa_fatigue"), incidents("password_spray")
	for p := range 4 {
		base := s.cfg.Start.Add(time.Duration(p) * s.cfg.BurstEvery)
		var foundFatigue, foundSpray bool
		for _, in := range fatigue {
			foundFatigue = foundFatigue || !in.StartedAt.Before(base.Add(25*time.Minute)) && in.StartedAt.Before(base.Add(40*time.Minute))
		}
		for _, in := range sprays {
			foundSpray = foundSpray || in.Key == loadgen.SprayAddress(p)
		}
		if !foundFatigue || !foundSpray {
			t.Errorf("attack period %d (from %s): mfa_fatigue incident %v, password_spray incident %v", p, base, foundFatigue, foundSpray)
		}
	}
	t.Logf("%d mfa_fatigue and %d password_spray incidents", len(fatigue), len(sprays))
	proc.stop()
	r.assertExactlyOnce(t, s.want)
}
