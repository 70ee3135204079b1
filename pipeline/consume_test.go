package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/signindiag/signindiag/pipeline/source"
	"github.com/signindiag/signindiag/sinks"
)

// fakeClaim serves records from a slice, then blocks like an idle
// partition; it records commits.
type fakeClaim struct {
	mu      sync.Mutex
	records []source.Record
	commits []int64
}

func (c *fakeClaim) Fetch(ctx context.Context) (source.Record, error) {
	c.mu.Lock()
	if len(c.records) > 0 {
		r := c.records[0]
		c.records = c.records[1:]
		c.mu.Unlock()
		return r, nil
	}
	c.mu.Unlock()
	<-ctx.Done()
	return source.Record{}, ctx.Err()
}

func (c *fakeClaim) Commit(next int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.commits = append(c.commits, next)
	return nil
}

func (c *fakeClaim) Position() (string, int, int64) { return "t", 0, 0 }

func (c *fakeClaim) committed() []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int64(nil), c.commits...)
}

// flakyProcessor fails its first failures writes with err; it records
// which offsets each successful write made durable.
type flakyProcessor struct {
	mu       sync.Mutex
	pending  []int64
	durable  []int64
	failures int
	err      error
}

func (p *flakyProcessor) Process(_ context.Context, rec source.Record) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pending = append(p.pending, rec.Offset)
	return nil
}

func (p *flakyProcessor) Pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pending)
}

func (p *flakyProcessor) Seal() func(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	batch := p.pending
	p.pending = nil
	return func(context.Context) error {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.failures > 0 {
			p.failures--
			return p.err
		}
		p.durable = append(p.durable, batch...)
		return nil
	}
}

func (p *flakyProcessor) durableUpTo() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var highest int64 = -1
	for _, o := range p.durable {
		if o > highest {
			highest = o
		}
	}
	return highest
}

func records(n int) []source.Record {
	out := make([]source.Record, n)
	for i := range out {
		out[i] = source.Record{Topic: "t", Offset: int64(i), Value: []byte(fmt.Sprint(i))}
	}
	return out
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestCommitNeverPassesAFailedWrite(t *testing.T) {
	claim := &fakeClaim{records: records(10)}
	proc := &flakyProcessor{failures: 3, err: errors.New("clickhouse: connection refused")}
	m := NewMetrics(prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- consume(ctx, "test", claim, proc, LoopConfig{FlushInterval: time.Hour, FlushMaxRecords: 4, ShutdownTimeout: time.Second}, quiet, m)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for proc.durableUpTo() < 7 && time.Now().Before(deadline) {
		// While flushes fail, nothing may be committed.
		for _, c := range claim.committed() {
			if c-1 > proc.durableUpTo() {
				t.Fatalf("committed %d while only offsets up to %d were durable", c, proc.durableUpTo())
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("consume: %v", err)
	}
	commits := claim.committed()
	if len(commits) == 0 || commits[len(commits)-1] != 10 {
		t.Fatalf("commits = %v, want the last to be 10 after the final flush", commits)
	}
	for _, c := range commits {
		if c-1 > proc.durableUpTo() {
			t.Fatalf("commit %d beyond durable offset %d", c, proc.durableUpTo())
		}
	}
	if got := testutil.ToFloat64(m.FlushErrors.WithLabelValues("test")); got != 3 {
		t.Errorf("flush errors = %v, want 3", got)
	}
}

func TestPermanentErrorStopsTheWorkerWithoutCommitting(t *testing.T) {
	claim := &fakeClaim{records: records(5)}
	proc := &flakyProcessor{failures: 1, err: fmt.Errorf("insert: %w", sinks.ErrPermanent)}
	err := consume(context.Background(), "test", claim, proc,
		LoopConfig{FlushInterval: time.Hour, FlushMaxRecords: 5, ShutdownTimeout: time.Second}, quiet, NewMetrics(prometheus.NewRegistry()))
	if !errors.Is(err, ErrPermanent) {
		t.Fatalf("err = %v, want ErrPermanent", err)
	}
	if c := claim.committed(); len(c) != 0 {
		t.Fatalf("committed %v after a permanent failure", c)
	}
}

func TestTimerCommitsEvenWithoutFindings(t *testing.T) {
	claim := &fakeClaim{records: records(3)}
	proc := &flakyProcessor{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- consume(ctx, "test", claim, proc, LoopConfig{FlushInterval: 10 * time.Millisecond, FlushMaxRecords: 1000, ShutdownTimeout: time.Second}, quiet, NewMetrics(prometheus.NewRegistry()))
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if c := claim.committed(); len(c) > 0 && c[len(c)-1] == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no timed commit; commits %v", claim.committed())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A worker flushes when the bytes it holds reach FlushMaxBytes, however
// few records that is: a backlog of large Event Hubs batches must not grow
// a batch without limit.
func TestLoopFlushesOnBytesAsWellAsRecords(t *testing.T) {
	recs := make([]source.Record, 7)
	for i := range recs {
		recs[i] = source.Record{Topic: "t", Offset: int64(i), Value: make([]byte, 1000)}
	}
	claim := &fakeClaim{records: recs}
	proc := &flakyProcessor{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- consume(ctx, "test", claim, proc, LoopConfig{FlushInterval: time.Hour, FlushMaxRecords: 1000,
			FlushMaxBytes: 3000, ShutdownTimeout: time.Second}, quiet, NewMetrics(prometheus.NewRegistry()))
	}()
	deadline := time.Now().Add(5 * time.Second)
	for len(claim.committed()) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := proc.durableUpTo(); got != 5 {
		t.Fatalf("durable up to offset %d with no timer flush, want 5 (two flushes of 3000 bytes)", got)
	}
	if c := claim.committed(); len(c) != 2 || c[0] != 3 || c[1] != 6 {
		t.Fatalf("commits %v, want [3 6]", c)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// scriptedProcessor hands each write to the test, which plays the store:
// it sees the offsets of the batch and answers when it chooses.
type scriptedProcessor struct {
	pending   []int64
	processed chan int64 // every offset processed, in order
	writes    chan writeCall
}

type writeCall struct {
	offsets []int64
	ctx     context.Context
	result  chan error
}

func newScriptedProcessor() *scriptedProcessor {
	return &scriptedProcessor{processed: make(chan int64, 100), writes: make(chan writeCall)}
}

func (p *scriptedProcessor) Process(_ context.Context, rec source.Record) error {
	p.pending = append(p.pending, rec.Offset)
	p.processed <- rec.Offset
	return nil
}

func (p *scriptedProcessor) Pending() int { return len(p.pending) }

func (p *scriptedProcessor) Seal() func(context.Context) error {
	batch := p.pending
	p.pending = nil
	return func(ctx context.Context) error {
		call := writeCall{offsets: batch, ctx: ctx, result: make(chan error)}
		select {
		case p.writes <- call:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case err := <-call.result:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// waitLong bounds every handshake of these tests: generous, since a
// loaded machine may be slow, and only reached when the loop is wrong.
const waitLong = 10 * time.Second

// expectWrite returns the next write of the loop, which must hold want.
func (p *scriptedProcessor) expectWrite(t *testing.T, want ...int64) writeCall {
	t.Helper()
	select {
	case call := <-p.writes:
		if fmt.Sprint(call.offsets) != fmt.Sprint(want) {
			t.Fatalf("write of offsets %v, want %v", call.offsets, want)
		}
		return call
	case <-time.After(waitLong):
		t.Fatalf("no write of offsets %v", want)
		return writeCall{}
	}
}

// expectProcessed waits until offset has been processed.
func (p *scriptedProcessor) expectProcessed(t *testing.T, offset int64, why string) {
	t.Helper()
	timeout := time.After(waitLong)
	for {
		select {
		case o := <-p.processed:
			if o == offset {
				return
			}
		case <-timeout:
			t.Fatalf("offset %d was not processed: %s", offset, why)
		}
	}
}

func runLoop(ctx context.Context, claim Claim, proc Processor, cfg LoopConfig) <-chan error {
	done := make(chan error, 1)
	go func() { done <- consume(ctx, "test", claim, proc, cfg, quiet, NewMetrics(prometheus.NewRegistry())) }()
	return done
}

func expectCommits(t *testing.T, claim *fakeClaim, want ...int64) {
	t.Helper()
	if got := claim.committed(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("commits %v, want %v", got, want)
	}
}

// The next batch is processed while the previous one is written: the
// write of the first batch returns only once a record after it has been
// processed, which a loop that flushes synchronously never does.
func TestNextBatchIsProcessedWhileTheLastIsWritten(t *testing.T) {
	claim := &fakeClaim{records: records(3)}
	proc := newScriptedProcessor()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := runLoop(ctx, claim, proc, LoopConfig{FlushInterval: time.Hour, FlushMaxRecords: 2, ShutdownTimeout: waitLong})
	first := proc.expectWrite(t, 0, 1)
	proc.expectProcessed(t, 2, "processing waited for the write of the batch before it")
	expectCommits(t, claim)
	first.result <- nil
	cancel()
	proc.expectWrite(t, 2).result <- nil
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	expectCommits(t, claim, 2, 3)
}

// Offsets are committed in order, each once the write of its batch has
// returned nil: not while it is retried, and never after a permanent
// failure.
func TestCommitsFollowTheWritesInOrder(t *testing.T) {
	claim := &fakeClaim{records: records(6)}
	proc := newScriptedProcessor()
	done := runLoop(context.Background(), claim, proc, LoopConfig{FlushInterval: time.Hour, FlushMaxRecords: 2, ShutdownTimeout: waitLong})
	proc.expectWrite(t, 0, 1).result <- errors.New("clickhouse: connection refused")
	retry := proc.expectWrite(t, 0, 1)
	proc.expectProcessed(t, 3, "the next batch is processed while the first is retried")
	expectCommits(t, claim)
	retry.result <- nil
	second := proc.expectWrite(t, 2, 3)
	expectCommits(t, claim, 2)
	second.result <- nil
	third := proc.expectWrite(t, 4, 5)
	expectCommits(t, claim, 2, 4)
	third.result <- fmt.Errorf("insert: %w", sinks.ErrPermanent)
	select {
	case err := <-done:
		if !errors.Is(err, ErrPermanent) {
			t.Fatalf("err = %v, want ErrPermanent", err)
		}
	case <-time.After(waitLong):
		t.Fatal("the worker did not stop on a permanent error")
	}
	expectCommits(t, claim, 2, 4)
}

// A shutdown lets the write in flight finish (its context is not the
// worker's), then writes and commits what was processed after it.
func TestShutdownCommitsEverythingProcessed(t *testing.T) {
	claim := &fakeClaim{records: records(5)}
	proc := newScriptedProcessor()
	ctx, cancel := context.WithCancel(context.Background())
	done := runLoop(ctx, claim, proc, LoopConfig{FlushInterval: time.Hour, FlushMaxRecords: 3, ShutdownTimeout: waitLong})
	inFlight := proc.expectWrite(t, 0, 1, 2)
	proc.expectProcessed(t, 4, "the next batch is processed while the first is written")
	cancel()
	if err := inFlight.ctx.Err(); err != nil {
		t.Fatalf("the shutdown aborted the write in flight: %v", err)
	}
	inFlight.result <- nil
	proc.expectWrite(t, 3, 4).result <- nil
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	expectCommits(t, claim, 3, 5)
}

// A write still running when the shutdown budget ends is abandoned, and
// its offsets stay uncommitted.
func TestShutdownAbandonsAWriteAfterItsBudget(t *testing.T) {
	claim := &fakeClaim{records: records(2)}
	proc := newScriptedProcessor()
	ctx, cancel := context.WithCancel(context.Background())
	done := runLoop(ctx, claim, proc, LoopConfig{FlushInterval: time.Hour, FlushMaxRecords: 2, ShutdownTimeout: 50 * time.Millisecond})
	stuck := proc.expectWrite(t, 0, 1)
	cancel()
	select {
	case <-stuck.ctx.Done():
	case <-time.After(waitLong):
		t.Fatal("the write was not cancelled after the shutdown budget")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitLong):
		t.Fatal("the worker did not stop")
	}
	expectCommits(t, claim)
}
