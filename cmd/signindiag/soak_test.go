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
			RequiredAcks: kafka.RequireAll, BatchTimeout: 5 * time.Millisecond, BatchSize: 1000,
			MaxAttempts: 3, WriteBackoffMax: 500 * time.Millisecond}
	}
	go func() {
		signIns, flags := writer(prefix+"-signins"), writer(prefix+"-flags")
		defer signIns.Close()
		defer flags.Close()
		send := func(w *kafka.Writer, msgs []kafka.Message) error {
			failing := time.Now()
			for {
				err := w.WriteMessages(ctx, msgs...)
				if err == nil || ctx.Err() != nil {
					return err
				}
				// The outages last seconds: an error that outlasts them is
				// the producer's own (a batch too large, say).
				if time.Since(failing) > 2*time.Minute {
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
	sent     int64 // at the end of the minute (or when last sampled)
	stored   int   // distinct sign-ins, likewise; -1 when the count failed (ClickHouse cut, saturated)
	faults   []string
	restarts int
}

// soakStats samples every second, from a goroutine of its own, the
// current process's VmRSS and the sign-ins sent, and at the end of each
// minute the sign-ins stored, into one row per minute.
type soakStats struct {
	start  time.Time
	sent   func() int64
	stored func() (int, bool)

	mu   sync.Mutex
	proc *process // nil between a process's end and its restart
	rows []*soakMinute
	stop chan struct{}
	over chan struct{}
}

func startSoakStats(start time.Time, sent func() int64, stored func() (int, bool)) *soakStats {
	st := &soakStats{start: start, sent: sent, stored: stored, stop: make(chan struct{}), over: make(chan struct{})}
	go func() {
		defer close(st.over)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		last := -1
		for {
			m := st.sample()
			if m != last && last >= 0 {
				// A new minute: the last one's stored count, a second late.
				n, ok := st.stored()
				if !ok {
					n = -1
				}
				st.mu.Lock()
				st.rows[last].stored = n
				st.mu.Unlock()
			}
			last = m
			select {
			case <-st.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return st
}

// row is minute m's row; st.mu held.
func (st *soakStats) row(m int) *soakMinute {
	for len(st.rows) <= m {
		st.rows = append(st.rows, &soakMinute{})
	}
	return st.rows[m]
}

func (st *soakStats) minute(at time.Time) int { return int(at.Sub(st.start) / time.Minute) }

func (st *soakStats) sample() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	m := st.minute(time.Now())
	row := st.row(m)
	row.sent = st.sent()
	if st.proc != nil {
		if rss, ok := readRSS(fmt.Sprintf("/proc/%d/status", st.proc.cmd.Process.Pid)); ok {
			row.maxRSS = max(row.maxRSS, rss)
		}
	}
	return m
}

func (st *soakStats) setProcess(p *process) { st.mu.Lock(); st.proc = p; st.mu.Unlock() }

func (st *soakStats) record(at time.Time, f func(*soakMinute)) {
	st.mu.Lock()
	defer st.mu.Unlock()
	f(st.row(st.minute(at)))
}

// end stops the sampling, with the final stored count, and returns the rows.
func (st *soakStats) end(stored int) []*soakMinute {
	select {
	case <-st.stop:
	default:
		close(st.stop)
	}
	<-st.over
	st.mu.Lock()
	defer st.mu.Unlock()
	if stored >= 0 {
		st.row(st.minute(time.Now())).stored = stored
	}
	return st.rows
}

func TestSoak(t *testing.T) {
	cfg := soakConfigFromEnv(t)
	broker := kafkatest.StartPrivateBroker(t)
	r := newFaultRunOn(t, "soak", broker.Brokers())
	proxy := startFaultProxy(t, r.ch.Addr)
	env := soakEnv(processEnv(r.brokers, proxy.via(r.ch), r.prefix, nil))
	t.Logf("soak: %s at %d sign-ins/s (%d in all), a fault every %s, seed %d; broker %s, database %s",
		cfg.duration, cfg.rate, cfg.rate*int(cfg.duration/time.Second), cfg.faultEvery, cfg.seed, broker.Brokers()[0], r.ch.Database)

	proc := startProcess(t, "ingest", env)
	proc.waitReady(t)
	ctx, cancel := context.WithTimeout(context.Background(), cfg.duration+10*time.Minute)
	defer cancel()
	start := time.Now()
	prod, err := startSoakProducer(ctx, r.brokers, r.prefix, cfg)
	if err != nil {
		t.Fatal(err)
	}
	stats := startSoakStats(start, prod.sent.Load, func() (int, bool) {
		var n uint64
		qctx, qcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer qcancel()
		err := r.conn.QueryRow(qctx, fmt.Sprintf("SELECT uniqExact(id) FROM %s.signins", r.ch.Database)).Scan(&n)
		return int(n), err == nil
	})
	stats.setProcess(proc)
	t.Cleanup(func() { stats.end(-1) })

	// The faults, one per period, in shuffled rounds of all four.
	rng := rand.New(rand.NewPCG(uint64(cfg.seed), 2))
	kinds := []string{"sigkill", "sigterm", "clickhouse-down", "kafka-restart"}
	var bag []string
	restart := func() {
		proc = startProcess(t, "ingest", env)
		stats.setProcess(proc)
		proc.waitReady(t)
		stats.record(time.Now(), func(m *soakMinute) { m.restarts++ })
	}
	for k := 1; ; k++ {
		at := start.Add(time.Duration(k) * cfg.faultEvery)
		if at.Add(40 * time.Second).After(start.Add(cfg.duration)) {
			break
		}
		time.Sleep(time.Until(at)) // the schedule, not a wait for a condition
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
			stats.setProcess(nil)
			restart()
		case "sigterm":
			proc.stop()
			stats.setProcess(nil)
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
		stats.record(began, func(m *soakMinute) { m.faults = append(m.faults, kind) })
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
		time.Sleep(time.Second) // no need to ask ClickHouse ten times a second
		return r.stored(t) >= want
	})
	waitDurable(t, r.brokers, r.prefix)
	caughtUp := time.Now()
	proc.stop()
	rows := stats.end(want)
	t.Logf("everything stored and committed %s after the last was sent; %.0f sign-ins/s over the whole run",
		caughtUp.Sub(sentAt).Round(time.Second), float64(want)/caughtUp.Sub(start).Seconds())

	lost, extra, dup := soakCompareSignIns(t, r, prod.ids)
	printSoakSummary(t, cfg, rows, want, lost, extra, dup)
	if lost+extra+dup > 0 {
		t.Errorf("sign-ins: %d lost, %d never sent, %d stored more than once after deduplication", lost, extra, dup)
	}
	r.assertNoDeadLetters(t)
	soakCompareWithReplay(t, r, want)
}

// soakEnv is a test process's configuration with the production defaults
// of batching and timeouts (the tests' small batches would measure
// something else), and six partitions on the internal topics.
func soakEnv(env map[string]string) map[string]string {
	delete(env, "SIGNINDIAG_BATCH_SIZE")
	delete(env, "SIGNINDIAG_FLUSH_INTERVAL")
	delete(env, "SIGNINDIAG_CLICKHOUSE_DIAL_TIMEOUT")
	env["SIGNINDIAG_KAFKA_PARTITIONS"] = "6"
	return env
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
	env := soakEnv(processEnv(r.brokers, refCH, refPrefix, map[string]string{
		"SIGNINDIAG_KAFKA_SIGNIN_TOPIC": r.prefix + "-signins",
		"SIGNINDIAG_KAFKA_FLAG_TOPIC":   r.prefix + "-flags",
	}))
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

// soakMaxRSS bounds every minute's peak: draining a backlog with the
// default batches, the end-to-end benchmark peaks at 1.3-1.9 GiB (see
// BENCHMARKS.md); more would be memory the process keeps.
const soakMaxRSS = 2 << 30

func printSoakSummary(t *testing.T, cfg soakConfig, rows []*soakMinute, want, lost, extra, dup int) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "\nsoak summary: %s at %d sign-ins/s, %d sign-ins, a fault every %s\n", cfg.duration, cfg.rate, want, cfg.faultEvery)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "minute\tphase\tsent\tstored\tmax RSS MiB\trestarts\tfaults\t")
	var peaks []int64 // of the minutes of steady production
	for m, row := range rows {
		// Minutes within SOAK_DURATION are the steady production; after
		// it the process drains what it is behind.
		phase := "produce"
		if time.Duration(m+1)*time.Minute > cfg.duration {
			phase = "catch-up"
		} else {
			peaks = append(peaks, row.maxRSS)
		}
		stored := "-" // not counted: the query failed during a fault
		if row.stored >= 0 {
			stored = strconv.Itoa(row.stored)
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%.0f\t%d\t%s\t\n", m+1, phase, row.sent, stored, float64(row.maxRSS)/(1<<20), row.restarts, strings.Join(row.faults, ","))
		if row.maxRSS > soakMaxRSS {
			t.Errorf("minute %d: peak VmRSS %.0f MiB, above the bound of %.0f MiB", m+1, float64(row.maxRSS)/(1<<20), float64(soakMaxRSS)/(1<<20))
		}
	}
	_ = tw.Flush()
	_, verdict := soakRSSFlat(peaks)
	fmt.Fprintf(&b, "RSS while producing: %s\n", verdict)
	fmt.Fprintf(&b, "sign-ins by id: %d lost, %d never sent, %d duplicated\n", lost, extra, dup)
	fmt.Print(b.String())
}

// soakRSSFlat compares the peaks of the second half of the production
// minutes with the first half's (the first minute, a warm-up, left out):
// flat when the later ones are within 25%.
func soakRSSFlat(peaks []int64) (bool, string) {
	if len(peaks) < 4 {
		return true, fmt.Sprintf("too short to judge (%d minutes of production; 4 needed)", len(peaks))
	}
	body := peaks[1:]
	half := len(body) / 2
	first, second := slices.Max(body[:half]), slices.Max(body[half:])
	ratio := float64(second) / float64(first)
	flat := ratio <= 1.25
	word := "flat"
	if !flat {
		word = "GROWING"
	}
	return flat, fmt.Sprintf("%s: max %.0f MiB in minutes 2-%d, %.0f MiB in minutes %d-%d (x%.2f)",
		word, float64(first)/(1<<20), half+1, float64(second)/(1<<20), half+2, len(peaks), ratio)
}
