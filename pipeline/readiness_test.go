package pipeline

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/signindiag/signindiag/health"
	"github.com/signindiag/signindiag/pipeline/source"
)

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestReadiness() (*Readiness, *fakeClock) {
	clock := &fakeClock{t: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)}
	return NewReadiness(ReadinessConfig{FlushFailing: 30 * time.Second, Now: clock.Now}), clock
}

// reasons renders Check's verdict as "stage: reason" lines, or "ready".
func reasons(t *testing.T, r *Readiness) string {
	t.Helper()
	err := r.Check()
	if err == nil {
		return "ready"
	}
	var ps health.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Check returned %T %v, want health.Problems", err, err)
	}
	var lines []string
	for _, p := range ps {
		lines = append(lines, p.String())
	}
	return strings.Join(lines, "\n")
}

func assignAll(r *Readiness) {
	for _, s := range Stages {
		r.GroupObserver(s).Assigned(1)
	}
}

func TestNotReadyUntilEveryStageWasAssigned(t *testing.T) {
	r, _ := newTestReadiness()
	if got := reasons(t, r); got != "rekey: consumer group not joined yet\ndiagnose: consumer group not joined yet\nspray: consumer group not joined yet" {
		t.Fatalf("before any join: %q", got)
	}
	r.GroupObserver("rekey").Assigned(3)
	r.GroupObserver("diagnose").Assigned(0) // others hold every partition: fine
	if got := reasons(t, r); got != "spray: consumer group not joined yet" {
		t.Fatalf("two joined: %q", got)
	}
	r.GroupObserver("spray").Assigned(1)
	if got := reasons(t, r); got != "ready" {
		t.Fatalf("all joined: %q", got)
	}
}

func TestFlushesFailingLongerThanTheBoundMakeTheStageNotReady(t *testing.T) {
	r, clock := newTestReadiness()
	assignAll(r)
	r.FlushSucceeded("diagnose", "keyed", 0, 5)
	clock.Advance(time.Second)
	r.FlushFailed("diagnose", "keyed", 0)
	clock.Advance(10 * time.Second)
	r.FlushFailed("diagnose", "keyed", 0) // retries do not restart the clock
	clock.Advance(20 * time.Second)
	if got := reasons(t, r); got != "ready" {
		t.Fatalf("failing for 30s, bound 30s: %q", got)
	}
	clock.Advance(15 * time.Second)
	if got := reasons(t, r); got != "diagnose: flushes failing for 45s" {
		t.Fatalf("failing for 45s: %q", got)
	}
	// Another partition that flushes fine does not hide the failing one.
	r.FlushSucceeded("diagnose", "keyed", 1, 0)
	if got := reasons(t, r); got != "diagnose: flushes failing for 45s" {
		t.Fatalf("with a healthy partition beside: %q", got)
	}
	st := r.Stages()[1]
	if st.Stage != "diagnose" || *st.LastFlushAgeSeconds != 0 || *st.LastFlushFailureAgeSeconds != 35 || st.FlushFailingSeconds != 45 || st.Lag != 5 {
		t.Fatalf("diagnose status: %+v", st)
	}
	r.FlushSucceeded("diagnose", "keyed", 0, 0)
	if got := reasons(t, r); got != "ready" {
		t.Fatalf("after a successful flush: %q", got)
	}
	// A failing partition that is given up no longer counts.
	r.FlushFailed("spray", "byip", 2)
	clock.Advance(time.Minute)
	if got := reasons(t, r); got != "spray: flushes failing for 1m0s" {
		t.Fatalf("spray failing: %q", got)
	}
	r.Released("spray", "byip", 2)
	if got := reasons(t, r); got != "ready" {
		t.Fatalf("after release: %q", got)
	}
}

func TestWarmingPartitionsAndRejoinLoopsAreNotReady(t *testing.T) {
	r, clock := newTestReadiness()
	assignAll(r)
	r.Warming("diagnose", "keyed", 0, true)
	r.Warming("diagnose", "keyed", 1, true)
	if got := reasons(t, r); got != "diagnose: 2 partitions warming up their windows" {
		t.Fatalf("warming: %q", got)
	}
	r.Warming("diagnose", "keyed", 0, false)
	r.Warming("diagnose", "keyed", 1, false)
	if got := reasons(t, r); got != "ready" {
		t.Fatalf("warm: %q", got)
	}
	// A rebalance is a short gap; a group that keeps failing to rejoin is not.
	rekey := r.GroupObserver("rekey")
	rekey.Unassigned()
	clock.Advance(5 * time.Second)
	if got := reasons(t, r); got != "ready" {
		t.Fatalf("rebalancing for 5s: %q", got)
	}
	clock.Advance(40 * time.Second)
	if got := reasons(t, r); got != "rekey: consumer group rejoining for 45s" {
		t.Fatalf("rejoining for 45s: %q", got)
	}
	rekey.Assigned(0)
	if got := reasons(t, r); got != "ready" {
		t.Fatalf("rejoined: %q", got)
	}
}

func TestStageMetrics(t *testing.T) {
	r, clock := newTestReadiness()
	assignAll(r)
	r.FlushSucceeded("rekey", "in", 0, 7)
	r.FlushSucceeded("rekey", "in", 1, 3)
	r.FlushFailed("diagnose", "keyed", 0)
	clock.Advance(12 * time.Second)
	reg := prometheus.NewRegistry()
	reg.MustRegister(r)
	want := `
# HELP signindiag_stage_flush_failing_seconds How long the stage's oldest failing partition has been failing to flush; 0 when every flush succeeds.
# TYPE signindiag_stage_flush_failing_seconds gauge
signindiag_stage_flush_failing_seconds{stage="diagnose"} 12
signindiag_stage_flush_failing_seconds{stage="rekey"} 0
signindiag_stage_flush_failing_seconds{stage="spray"} 0
# HELP signindiag_stage_last_flush_age_seconds Seconds since the stage last made a batch durable and committed it (absent before the first).
# TYPE signindiag_stage_last_flush_age_seconds gauge
signindiag_stage_last_flush_age_seconds{stage="rekey"} 12
# HELP signindiag_stage_lag_records Records behind the high-water marks of the partitions the stage holds, as of their last flush.
# TYPE signindiag_stage_lag_records gauge
signindiag_stage_lag_records{stage="diagnose"} 0
signindiag_stage_lag_records{stage="rekey"} 10
signindiag_stage_lag_records{stage="spray"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"signindiag_stage_flush_failing_seconds", "signindiag_stage_last_flush_age_seconds", "signindiag_stage_lag_records"); err != nil {
		t.Fatal(err)
	}
}

func TestNilReadinessIsANoOp(t *testing.T) {
	var r *Readiness
	r.FlushFailed("diagnose", "t", 0)
	r.FlushSucceeded("diagnose", "t", 0, 1)
	r.Warming("diagnose", "t", 0, true)
	r.Released("diagnose", "t", 0)
	r.GroupObserver("diagnose").Assigned(1)
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
}

// The consume loop reports to readiness: a store that keeps failing makes
// the stage not ready once the bound has passed on readiness's clock, and
// the first durable flush makes it ready again.
func TestConsumeLoopReportsFailingFlushesToReadiness(t *testing.T) {
	r, clock := newTestReadiness()
	assignAll(r)
	m := NewMetrics(prometheus.NewRegistry())
	m.AttachReadiness(r)
	claim := &fakeClaim{records: records(4)}
	proc := &gatedProcessor{fail: make(chan struct{}), failed: make(chan struct{}, 100)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- consume(ctx, "diagnose", claim, proc, LoopConfig{FlushInterval: time.Hour, FlushMaxRecords: 4, ShutdownTimeout: time.Second}, quiet, m)
	}()
	// The loop reports a failed flush after the write returns; the second
	// failure proves the first was reported.
	<-proc.failed
	<-proc.failed
	clock.Advance(31 * time.Second)
	if got := reasons(t, r); got != "diagnose: flushes failing for 31s" {
		t.Errorf("while the store fails: %q", got)
	}
	close(proc.fail) // the store is back
	deadline := time.Now().Add(10 * time.Second)
	for len(claim.committed()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := reasons(t, r); got != "ready" {
		t.Errorf("after the store came back: %q", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := r.Stages()[1]; st.Partitions != 0 {
		t.Errorf("partition still held after the loop ended: %+v", st)
	}
}

// gatedProcessor fails every write until fail is closed, and signals each
// failure on failed.
type gatedProcessor struct {
	mu      sync.Mutex
	pending int
	fail    chan struct{}
	failed  chan struct{}
}

func (p *gatedProcessor) Process(context.Context, source.Record) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pending++
	return nil
}

func (p *gatedProcessor) Pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pending
}

func (p *gatedProcessor) Seal() func(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pending = 0
	return func(context.Context) error {
		select {
		case <-p.fail:
			return nil
		default:
			select {
			case p.failed <- struct{}{}:
			default:
			}
			return errors.New("clickhouse: dial tcp 10.0.0.7:9000: connection refused")
		}
	}
}

func TestOffsetResetsAreCountedByStage(t *testing.T) {
	r, _ := newTestReadiness()
	r.GroupObserver("diagnose").OffsetReset("keyed", 1, 150)
	r.GroupObserver("diagnose").OffsetReset("keyed", 2, 3)
	reg := prometheus.NewRegistry()
	reg.MustRegister(r)
	want := `
# HELP signindiag_offset_resets_total Times a partition reader of the stage skipped ahead because its offset fell off the log's retention.
# TYPE signindiag_offset_resets_total counter
signindiag_offset_resets_total{stage="diagnose"} 2
signindiag_offset_resets_total{stage="rekey"} 0
signindiag_offset_resets_total{stage="spray"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "signindiag_offset_resets_total"); err != nil {
		t.Fatal(err)
	}
}
