//go:build soak

package main

// The soak (make soak; SOAK_DURATION, SOAK_RATE, SOAK_FAULT_EVERY,
// SOAK_SEED): the real binary ingests a loadgen stream at a steady rate
// from a private broker for SOAK_DURATION while a fault is injected every
// SOAK_FAULT_EVERY, in a shuffled rotation of: SIGKILL and restart,
// SIGTERM and restart, ClickHouse unreachable for 25 s (the fault proxy),
// the broker shut down for 12 s and started again. At the end every sign-in
// sent must be stored exactly once (by id), and the findings and incidents
// must be those of an uninterrupted process replaying the same topics into
// a fresh database. RSS is sampled every second; the summary prints its
// maximum per minute.
//
// A test behind a build tag rather than a command of its own: it reuses the
// fault tests' machinery (the binary run as a child process, the breakable
// ClickHouse proxy, the private broker, per-test databases dropped at the
// end, the by-id comparisons), which lives in this package's tests; the
// tag keeps it out of `make test` and `go test ./...`.

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/signindiag/signindiag/loadgen"
	"github.com/signindiag/signindiag/pipeline/source/kafkatest"
	"github.com/signindiag/signindiag/sinks/clickhouse/clickhousetest"
)

type soakConfig struct {
	duration, faultEvery time.Duration
	rate                 int // sign-ins per second
	seed                 int64
}

func soakConfigFromEnv(t *testing.T) soakConfig {
	t.Helper()
	c := soakConfig{duration: 10 * time.Minute, faultEvery: time.Minute, rate: 5000, seed: 1}
	var err error
	if v := os.Getenv("SOAK_DURATION"); v != "" {
		if c.duration, err = time.ParseDuration(v); err != nil {
			t.Fatalf("SOAK_DURATION: %v", err)
		}
	}
	if v := os.Getenv("SOAK_FAULT_EVERY"); v != "" {
		if c.faultEvery, err = time.ParseDuration(v); err != nil {
			t.Fatalf("SOAK_FAULT_EVERY: %v", err)
		}
	}
	if v := os.Getenv("SOAK_RATE"); v != "" {
		if c.rate, err = strconv.Atoi(v); err != nil || c.rate <= 0 {
			t.Fatalf("SOAK_RATE %q: want a positive number of sign-ins per second", v)
		}
	}
	if v := os.Getenv("SOAK_SEED"); v != "" {
		if c.seed, err = strconv.ParseInt(v, 10, 64); err != nil {
			t.Fatalf("SOAK_SEED: %v", err)
		}
	}
	if c.duration < 2*c.faultEvery || c.faultEvery < 20*time.Second {
		t.Fatalf("SOAK_DURATION %s, SOAK_FAULT_EVERY %s: want faults at least 20s apart and at least two periods", c.duration, c.faultEvery)
	}
	return c
}

// soakID is a sign-in id (a GUID) in 16 bytes, so that millions fit.
type soakID [16]byte

func parseSoakID(s string) (soakID, bool) {
	var id soakID
	h := strings.ReplaceAll(s, "-", "")
	if len(h) != 32 {
		return id, false
	}
	_, err := hex.Decode(id[:], []byte(h))
	return id, err == nil
}

// soakProducer sends the stream at the pace of cfg.rate sign-ins a
// second, riding out broker outages by sending a failed batch again.
type soakProducer struct {
	sent    atomic.Int64 // distinct sign-ins acknowledged
	retries atomic.Int64
	ids     []soakID // every sign-in sent; read after done
	done    chan error
}

func startSoakProducer(ctx context.Context, brokers []string, prefix string, cfg soakConfig) (*soakProducer, error) {
	gcfg := loadgen.DefaultConfig()
	gcfg.Seed = cfg.seed
	gcfg.Count = cfg.rate * int(cfg.duration/time.Second)
	gcfg.Start = time.Now().UTC().Add(-6 * time.Hour).Truncate(time.Minute)
	gcfg.Span = 6 * time.Hour
	gen, err := loadgen.New(gcfg)
	if err != nil {
		return nil, err
	}
	p := &soakProducer{ids: make([]soakID, 0, gcfg.Count), done: make(chan error, 1)}
	writer := func(topic string) *kafka.Writer {
		return &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, Balancer: &kafka.RoundRobin{},
			RequiredAcks: kafka.RequireAll, BatchTimeout: 5 * time.Millisecond, BatchSize: 1000, BatchBytes: 16 << 20,
			MaxAttempts: 3, WriteBackoffMax: 500 * time.Millisecond}
	}
	go func() {
		signIns, flags := writer(prefix+"-signins"), writer(prefix+"-flags")
		defer signIns.Close()
		defer flags.Close()
		send := func(w *kafka.Writer, msgs []kafka.Message) error {
			for {
				err := w.WriteMessages(ctx, msgs...)
				if err == nil || ctx.Err() != nil {
					return err
				}
				p.retries.Add(1)
				time.Sleep(250 * time.Millisecond) // the broker is away: send the batch again
			}
		}
		start := time.Now()
		var batch, flagBatch []kafka.Message
		var batchIDs []soakID
		for {
			// Everything due by now, in batches of up to a second's worth
			// (after an outage the backlog goes out as fast as it can).
			due := min(int(time.Since(start).Seconds()*float64(cfg.rate))-len(p.ids), cfg.rate)
			more := true
			for n := 0; n < due; {
				m, ok := gen.Next()
				if !ok {
					more = false
					break
				}
				if m.Topic == loadgen.TopicFlags {
					flagBatch = append(flagBatch, kafka.Message{Value: m.Value})
					continue
				}
				batch = append(batch, kafka.Message{Value: m.Value})
				if m.Duplicate {
					continue
				}
				for _, s := range m.SignInIDs {
					id, ok := parseSoakID(s)
					if !ok {
						p.done <- fmt.Errorf("loadgen id %q is not a GUID", s)
						return
					}
					batchIDs = append(batchIDs, id)
				}
				n += len(m.SignInIDs)
			}
			if len(batch) > 0 {
				if err := send(signIns, batch); err != nil {
					p.done <- fmt.Errorf("produce sign-ins: %w", err)
					return
				}
			}
			// A flag after its sign-in, as loadgen orders them.
			if len(flagBatch) > 0 {
				if err := send(flags, flagBatch); err != nil {
					p.done <- fmt.Errorf("produce flags: %w", err)
					return
				}
			}
			p.ids = append(p.ids, batchIDs...)
			p.sent.Store(int64(len(p.ids)))
			batch, flagBatch, batchIDs = batch[:0], flagBatch[:0], batchIDs[:0]
			if !more {
				p.done <- nil
				return
			}
			if due < cfg.rate {
				time.Sleep(100 * time.Millisecond)
			}
		}
	}()
	return p, nil
}

// soakMinute is one row of the summary.
type soakMinute struct {
	maxRSS   int64
	sent     int64 // at the end of the minute
	stored   int
	faults   []string
	restarts int
}

// soakRSS samples the current process's VmRSS every second into minutes.
type soakRSS struct {
	start time.Time
	mu    sync.Mutex
	proc  *process
	peaks []int64 // max per minute since start
}

func (w *soakRSS) set(p *process) { w.mu.Lock(); w.proc = p; w.mu.Unlock() }

func (w *soakRSS) sample() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.proc == nil {
		return
	}
	rss, ok := readRSS(fmt.Sprintf("/proc/%d/status", w.proc.cmd.Process.Pid))
	if !ok {
		return
	}
	m := int(time.Since(w.start) / time.Minute)
	for len(w.peaks) <= m {
		w.peaks = append(w.peaks, 0)
	}
	w.peaks[m] = max(w.peaks[m], rss)
}

func TestSoak(t *testing.T) {
	cfg := soakConfigFromEnv(t)
	broker := kafkatest.StartPrivateBroker(t)
	r := newFaultRunOn(t, "soak", broker.Brokers())
	proxy := startFaultProxy(t, r.ch.Addr)
	env := r.env(proxy.via(r.ch), map[string]string{
		"SIGNINDIAG_BATCH_SIZE":       "5000",
		"SIGNINDIAG_FLUSH_INTERVAL":   "1s",
		"SIGNINDIAG_KAFKA_PARTITIONS": "6",
	})
	t.Logf("soak: %s at %d sign-ins/s (%d in all), a fault every %s, seed %d; broker %s, database %s",
		cfg.duration, cfg.rate, cfg.rate*int(cfg.duration/time.Second), cfg.faultEvery, cfg.seed, broker.Brokers()[0], r.ch.Database)

	proc := startProcess(t, "ingest", env)
	proc.waitReady(t)
	start := time.Now()
	rss := &soakRSS{start: start, proc: proc}
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			rss.sample()
			select {
			case <-stopSampling:
				return
			case <-tick.C:
			}
		}
	}()
	endSampling := sync.OnceFunc(func() { close(stopSampling); <-sampled })
	t.Cleanup(endSampling)

	ctx, cancel := context.WithTimeout(context.Background(), cfg.duration+10*time.Minute)
	defer cancel()
	prod, err := startSoakProducer(ctx, r.brokers, r.prefix, cfg)
	if err != nil {
		t.Fatal(err)
	}

	// The faults, one per period, in shuffled rounds of all four.
	rng := rand.New(rand.NewPCG(uint64(cfg.seed), 2))
	kinds := []string{"sigkill", "sigterm", "clickhouse-down", "kafka-restart"}
	var bag []string
	minutes := map[int]*soakMinute{}
	row := func(at time.Time) *soakMinute {
		m := int(at.Sub(start) / time.Minute)
		if minutes[m] == nil {
			minutes[m] = &soakMinute{}
		}
		return minutes[m]
	}
	restart := func() {
		proc = startProcess(t, "ingest", env)
		rss.set(proc)
		proc.waitReady(t)
		row(time.Now()).restarts++
	}
	nextMinute := start.Add(time.Minute)
	for k := 1; ; k++ {
		at := start.Add(time.Duration(k) * cfg.faultEvery)
		if at.Add(40 * time.Second).After(start.Add(cfg.duration)) {
			break
		}
		for time.Now().Before(at) {
			if time.Now().After(nextMinute) {
				m := row(nextMinute.Add(-time.Second))
				m.sent, m.stored = prod.sent.Load(), r.stored(t)
				nextMinute = nextMinute.Add(time.Minute)
			}
			time.Sleep(200 * time.Millisecond) // the pace of the schedule, not a wait for a condition
		}
		if len(bag) == 0 {
			bag = slices.Clone(kinds)
			rng.Shuffle(len(bag), func(i, j int) { bag[i], bag[j] = bag[j], bag[i] })
		}
		kind := bag[0]
		bag = bag[1:]
		began := time.Now()
		storedBefore := r.stored(t)
		switch kind {
		case "sigkill":
			proc.kill()
			rss.set(nil)
			restart()
		case "sigterm":
			proc.stop()
			rss.set(nil)
			restart()
		case "clickhouse-down":
			proxy.setBroken(true)
			time.Sleep(25 * time.Second) // an outage of fixed length
			proxy.setBroken(false)
		case "kafka-restart":
			broker.Stop()
			time.Sleep(12 * time.Second) // an outage of fixed length
			broker.Start()
		}
		select {
		case err := <-proc.done:
			proc.dumpLog()
			t.Fatalf("signindiag exited after the fault %s: %v", kind, err)
		default:
		}
		row(began).faults = append(row(began).faults, kind)
		t.Logf("%s: %s for %s (%d of %d sign-ins sent, %d stored before it)", began.Sub(start).Round(time.Second), kind,
			time.Since(began).Round(100*time.Millisecond), prod.sent.Load(), cfg.rate*int(cfg.duration/time.Second), storedBefore)
	}

	if err := <-prod.done; err != nil {
		t.Fatal(err)
	}
	sentAt := time.Now()
	want := len(prod.ids)
	t.Logf("all %d sign-ins sent %s after the start (%d batches sent again during outages)",
		want, sentAt.Sub(start).Round(time.Second), prod.retries.Load())
	eventually(t, max(5*time.Minute, cfg.duration), fmt.Sprintf("%d distinct sign-ins stored", want), func() bool {
		if time.Now().After(nextMinute) {
			m := row(nextMinute.Add(-time.Second))
			m.sent, m.stored = prod.sent.Load(), r.stored(t)
			nextMinute = nextMinute.Add(time.Minute)
		}
		time.Sleep(time.Second) // no need to ask ClickHouse ten times a second
		return r.stored(t) >= want
	})
	waitDurable(t, r.brokers, r.prefix)
	caughtUp := time.Now()
	row(caughtUp.Add(-time.Second)).sent, row(caughtUp.Add(-time.Second)).stored = int64(want), want
	proc.stop()
	endSampling()
	elapsed := caughtUp.Sub(start)
	t.Logf("everything stored and committed %s after the last was sent; %.0f sign-ins/s over the whole run",
		caughtUp.Sub(sentAt).Round(time.Second), float64(want)/elapsed.Seconds())

	lost, extra, dup := soakCompareSignIns(t, r, prod.ids)
	printSoakSummary(t, cfg, minutes, rss.peaks, want, lost, extra, dup)
	if lost+extra+dup > 0 {
		t.Errorf("sign-ins: %d lost, %d never sent, %d stored more than once after deduplication", lost, extra, dup)
	}
	r.assertNoDeadLetters(t)
	soakCompareWithReplay(t, r, want)
}

// soakCompareSignIns compares the stored sign-ins with the ids sent, by
// id, sorted on both sides so that millions take little memory.
func soakCompareSignIns(t *testing.T, r *faultRun, sent []soakID) (lost, extra, dup int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	rows, err := r.conn.Query(ctx, fmt.Sprintf("SELECT id, count() FROM %s.signins FINAL GROUP BY id", r.ch.Database))
	if err != nil {
		t.Fatal(err)
	}
	type storedID struct {
		id soakID
		n  uint64
	}
	stored := make([]storedID, 0, len(sent))
	for rows.Next() {
		var s string
		var n uint64
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		id, ok := parseSoakID(s)
		if !ok {
			if extra++; extra <= 5 {
				t.Errorf("stored sign-in %q was never sent", s)
			}
			continue
		}
		stored = append(stored, storedID{id, n})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sent = slices.Clone(sent)
	slices.SortFunc(sent, func(a, b soakID) int { return bytes.Compare(a[:], b[:]) })
	slices.SortFunc(stored, func(a, b storedID) int { return bytes.Compare(a.id[:], b.id[:]) })
	for i := 1; i < len(sent); i++ {
		if sent[i] == sent[i-1] {
			t.Fatalf("the producer sent sign-in %x as new twice: the check would be wrong", sent[i])
		}
	}
	i, j := 0, 0
	for i < len(sent) || j < len(stored) {
		switch {
		case j == len(stored) || i < len(sent) && bytes.Compare(sent[i][:], stored[j].id[:]) < 0:
			if lost++; lost <= 5 {
				t.Errorf("sign-in %x lost", sent[i])
			}
			i++
		case i == len(sent) || bytes.Compare(sent[i][:], stored[j].id[:]) > 0:
			if extra++; extra <= 5 {
				t.Errorf("stored sign-in %x was never sent", stored[j].id)
			}
			j++
		default:
			if stored[j].n != 1 {
				if dup++; dup <= 5 {
					t.Errorf("sign-in %x stored %d times after deduplication", sent[i], stored[j].n)
				}
			}
			i++
			j++
		}
	}
	t.Logf("sign-ins by id: %d sent, %d stored; %d lost, %d never sent, %d duplicated", len(sent), len(stored), lost, extra, dup)
	return lost, extra, dup
}

// soakCompareWithReplay runs an uninterrupted process over the soak's
// input topics into a fresh database and compares the findings and
// incidents, by id, with the soak's.
func soakCompareWithReplay(t *testing.T, r *faultRun, want int) {
	t.Helper()
	refCH := clickhousetest.Config(t)
	refPrefix := kafkatest.UniqueName("soak-replay")
	t.Cleanup(func() { kafkatest.DeleteTopics(r.brokers, topicNames(refPrefix)...) })
	env := processEnv(r.brokers, refCH, refPrefix, map[string]string{
		"SIGNINDIAG_KAFKA_SIGNIN_TOPIC": r.prefix + "-signins",
		"SIGNINDIAG_KAFKA_FLAG_TOPIC":   r.prefix + "-flags",
		"SIGNINDIAG_BATCH_SIZE":         "5000",
		"SIGNINDIAG_FLUSH_INTERVAL":     "1s",
		"SIGNINDIAG_KAFKA_PARTITIONS":   "6",
	})
	began := time.Now()
	ref := startProcess(t, "ingest", env)
	ref.waitReady(t)
	conn := rawConn(t, refCH)
	eventually(t, 30*time.Minute, "the replay stored everything", func() bool {
		time.Sleep(time.Second) // no need to ask ClickHouse ten times a second
		return int(countDistinct(t, conn, refCH.Database, "signins")) >= want
	})
	eventually(t, 2*time.Minute, "the replay committed everything", func() bool {
		return kafkatest.Caught(t, r.brokers, refPrefix, r.prefix+"-signins") && kafkatest.Caught(t, r.brokers, refPrefix, r.prefix+"-flags") &&
			kafkatest.Caught(t, r.brokers, refPrefix+"-diagnose", refPrefix+"-keyed") && kafkatest.Caught(t, r.brokers, refPrefix+"-spray", refPrefix+"-byip")
	})
	ref.stop()
	t.Logf("uninterrupted replay of the same topics took %s", time.Since(began).Round(time.Second))
	wantF, gotF := readFindings(t, conn, refCH.Database), readFindings(t, r.conn, r.ch.Database)
	wantI, gotI := readIncidents(t, conn, refCH.Database), readIncidents(t, r.conn, r.ch.Database)
	compareByID(t, "finding", withoutCount(wantF), withoutCount(gotF))
	compareByID(t, "incident", wantI, gotI)
	if len(wantF) == 0 || len(wantI) == 0 {
		t.Errorf("the replay stored %d findings and %d incidents: the stream must raise both", len(wantF), len(wantI))
	}
	fmt.Printf("findings: %d stored by the soak, %d by the uninterrupted replay; incidents: %d and %d\n",
		len(gotF), len(wantF), len(gotI), len(wantI))
}

func printSoakSummary(t *testing.T, cfg soakConfig, minutes map[int]*soakMinute, peaks []int64, want, lost, extra, dup int) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "\nsoak summary: %s at %d sign-ins/s, %d sign-ins\n", cfg.duration, cfg.rate, want)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "minute\tsent\tstored\tmax RSS MiB\trestarts\tfaults\t")
	n := max(len(peaks), len(minutes))
	for m := range n {
		row := minutes[m]
		if row == nil {
			row = &soakMinute{}
		}
		var peak int64
		if m < len(peaks) {
			peak = peaks[m]
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%.0f\t%d\t%s\t\n", m+1, row.sent, row.stored, float64(peak)/(1<<20), row.restarts, strings.Join(row.faults, ","))
	}
	_ = tw.Flush()
	flat, verdict := soakRSSFlat(peaks)
	fmt.Fprintf(&b, "RSS: %s\n", verdict)
	fmt.Fprintf(&b, "sign-ins by id: %d lost, %d never sent, %d duplicated\n", lost, extra, dup)
	fmt.Print(b.String())
	if !flat {
		t.Logf("RSS not flat: %s", verdict)
	}
	for _, p := range peaks {
		if p > faultMaxRSS {
			t.Errorf("a minute's peak VmRSS %.0f MiB is above the bound of %.0f MiB", float64(p)/(1<<20), float64(faultMaxRSS)/(1<<20))
		}
	}
}

// soakRSSFlat compares the peaks of the second half of the run with the
// first half's (the first minute, a warm-up, left out): flat when the
// later ones are within 25%.
func soakRSSFlat(peaks []int64) (bool, string) {
	if len(peaks) < 3 {
		return true, "too short to judge"
	}
	body := peaks[1:]
	half := len(body) / 2
	first, second := slices.Max(body[:max(half, 1)]), slices.Max(body[max(half, 1):])
	ratio := float64(second) / float64(first)
	flat := ratio <= 1.25
	word := "flat"
	if !flat {
		word = "GROWING"
	}
	return flat, fmt.Sprintf("%s: max %.0f MiB in minutes 2-%d, %.0f MiB in minutes %d-%d (x%.2f)",
		word, float64(first)/(1<<20), max(half, 1)+1, float64(second)/(1<<20), max(half, 1)+2, len(peaks), ratio)
}
