// Package pipeline wires the three stages of ingestion: rekey (raw topics →
// user-keyed topic and IP-keyed spray candidates, dead letters aside),
// diagnose (user-keyed topic → window → rules → store) and spray (IP-keyed
// topic → per-IP window → password_spray → store). All run the same
// per-partition loop: read, process, seal the batch when it is full
// (records or bytes) or the timer fires, write it in the background while
// the next batch is processed, and commit the offset only after the write
// made everything before it durable.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/signindiag/signindiag/pipeline/source"
	"github.com/signindiag/signindiag/sinks"
)

// ErrPermanent marks an error that retrying cannot fix: the worker stops
// instead of looping. It is the sinks' sentinel, so stores need not know
// the pipeline.
var ErrPermanent = sinks.ErrPermanent

// Processor is one stage's work on one partition.
type Processor interface {
	// Process adds a record to the pending batch. An error stops the
	// partition's worker: bad input is dead-lettered, not returned.
	Process(ctx context.Context, rec source.Record) error
	// Pending is the number of records processed since the last Seal.
	Pending() int
	// Seal moves the pending batch out, leaving the processor empty for
	// the records after it, and returns the write that makes the batch
	// durable. The write runs on another goroutine while Process goes on,
	// so it may touch only the sealed batch; it is called again after an
	// error unless the error wraps ErrPermanent. Seal is called only once
	// the write of the batch sealed before has returned, so a processor
	// may reuse that batch's memory (two buffers, alternating).
	Seal() (write func(context.Context) error)
}

// Claim is what the loop needs of a partition; *source.Claim is the real
// one, tests use a fake.
type Claim interface {
	Fetch(ctx context.Context) (source.Record, error)
	// Commit records next as the offset to resume from.
	Commit(next int64) error
	// Position names the partition and its committed offset.
	Position() (topic string, partition int, committed int64)
}

// LoopConfig tunes batching.
// Its env tags name the variables that set it (below the binary's
// prefix, cmd/signindiag/config.go); Validate checks what they hold.
type LoopConfig struct {
	// FlushInterval and FlushMaxRecords bound how long and how many
	// records a worker holds before making them durable and committing.
	FlushInterval   time.Duration `env:"FLUSH_INTERVAL, default=500ms"`
	FlushMaxRecords int           `env:"BATCH_SIZE, default=5000"`
	// FlushMaxBytes bounds the input bytes held before a flush, so a
	// catch-up over large Event Hubs batches keeps a worker's memory
	// bounded however many records a batch holds; 0 means no bound.
	FlushMaxBytes int `env:"BATCH_BYTES, default=8388608"`
	// ShutdownTimeout bounds the final flush after ctx ends.
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT, default=20s"`
}

// Validate reports each setting out of range, named by its variable.
func (c LoopConfig) Validate() error {
	var errs []error
	if c.FlushMaxRecords < 1 {
		errs = append(errs, fmt.Errorf("BATCH_SIZE: expected at least 1, got %d", c.FlushMaxRecords))
	}
	if c.FlushMaxBytes < 1<<20 {
		errs = append(errs, fmt.Errorf("BATCH_BYTES: expected at least 1048576 (1 MiB), got %d", c.FlushMaxBytes))
	}
	if c.FlushInterval <= 0 {
		errs = append(errs, fmt.Errorf("FLUSH_INTERVAL: expected a positive duration, got %s", c.FlushInterval))
	}
	return errors.Join(errs...)
}

type loop struct {
	stage     string
	topic     string
	partition int
	claim     Claim
	proc      Processor
	cfg       LoopConfig
	log       *slog.Logger
	metrics   *Metrics

	lastOffset   int64 // last record processed, -1 before any
	committed    int64 // last offset committed (next to read)
	pendingBytes int   // input bytes processed since the last seal
	// producedAt holds the produce times of the records since the last
	// seal, to observe how long each took to become durable; spareTimes
	// is the slice of a landed batch, kept for reuse.
	producedAt, spareTimes []time.Time

	// inflight is the sealed batch being written, nil when none. There is
	// at most one: the processor reuses the memory of the batch before it,
	// and offsets are committed in order anyway.
	inflight *flight
	// sealDue: the timer fired while a batch was in flight; the pending
	// one is sealed as soon as that lands.
	sealDue bool
	// failed is the error of a write that did not land: nothing may be
	// sealed or committed after it, as the offset would pass its records.
	failed error
	// writeCtx is the writes' context. It is not ctx, so that a shutdown
	// does not abort the write in flight midway: shutdown cancels it once
	// ShutdownTimeout has passed.
	writeCtx     context.Context
	cancelWrites context.CancelFunc
}

// flight is a sealed batch on its way to storage.
type flight struct {
	next       int64 // the offset to commit once the batch is durable
	producedAt []time.Time
	done       chan error // the write's result, sent once
}

// fetchAheadBytes bounds the fetched records waiting to be processed: the
// fetcher runs ahead of a flush, but not by more than this.
const fetchAheadBytes = 4 << 20

// consume runs the loop on one claim until ctx ends.
func consume(ctx context.Context, stage string, claim Claim, proc Processor, cfg LoopConfig, log *slog.Logger, m *Metrics) error {
	topic, partition, committed := claim.Position()
	l := &loop{stage: stage, topic: topic, partition: partition, claim: claim, proc: proc, cfg: cfg, metrics: m,
		lastOffset: -1, committed: committed, log: log.With("stage", stage, "topic", topic, "partition", partition)}
	l.writeCtx, l.cancelWrites = context.WithCancel(context.WithoutCancel(ctx))
	m.PartitionsHeld.WithLabelValues(stage).Inc()
	defer m.PartitionsHeld.WithLabelValues(stage).Dec()
	defer l.reportReleased()
	defer l.drain() // before the release: a write still running reports to readiness

	// Fetching runs apart from processing so that the flush timer fires
	// even while no record arrives.
	fetchCtx, stopFetch := context.WithCancel(ctx)
	defer stopFetch()
	records := make(chan source.Record, 256)
	fetchErr := make(chan error, 1)
	ahead := semaphore.NewWeighted(fetchAheadBytes)
	go func() {
		defer close(records)
		for {
			rec, err := claim.Fetch(fetchCtx)
			if err != nil {
				fetchErr <- err
				return
			}
			if err := ahead.Acquire(fetchCtx, aheadWeight(rec)); err != nil {
				return
			}
			select {
			case records <- rec:
			case <-fetchCtx.Done():
				return
			}
		}
	}()

	ticker := time.NewTicker(cfg.FlushInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return l.shutdown(ctx)
		case err := <-l.landing():
			if err := l.landed(err); err != nil {
				return err
			}
			if l.sealDue {
				if err := l.seal(ctx); err != nil {
					return l.stopped(ctx, err)
				}
			}
		case rec, ok := <-records:
			if !ok {
				if ctx.Err() != nil {
					return l.shutdown(ctx)
				}
				var err error
				select {
				case err = <-fetchErr:
				default:
					err = errors.New("fetcher stopped")
				}
				// Make what was processed durable before giving up the
				// partition, so its next owner replays as little as possible.
				_ = l.shutdown(ctx)
				return fmt.Errorf("fetch: %w", err)
			}
			m.RecordsConsumed.WithLabelValues(stage).Inc()
			if !rec.Time.IsZero() {
				m.ConsumptionLag.WithLabelValues(stage).Observe(time.Since(rec.Time).Seconds())
			}
			err := proc.Process(ctx, rec)
			ahead.Release(aheadWeight(rec))
			if err != nil {
				return fmt.Errorf("process offset %d: %w", rec.Offset, err)
			}
			l.lastOffset = rec.Offset
			l.pendingBytes += len(rec.Value)
			if !rec.Time.IsZero() {
				l.producedAt = append(l.producedAt, rec.Time)
			}
			if proc.Pending() >= cfg.FlushMaxRecords || (cfg.FlushMaxBytes > 0 && l.pendingBytes >= cfg.FlushMaxBytes) {
				// Waits for the batch in flight: backpressure.
				if err := l.seal(ctx); err != nil {
					return l.stopped(ctx, err)
				}
			}
		case <-ticker.C:
			if l.inflight != nil {
				l.sealDue = true // waiting here would stall processing
				continue
			}
			if err := l.seal(ctx); err != nil {
				return l.stopped(ctx, err)
			}
		}
	}
}

// aheadWeight is a record's share of the fetch-ahead budget; a record
// larger than the whole budget takes all of it.
func aheadWeight(rec source.Record) int64 { return min(int64(len(rec.Value))+1, fetchAheadBytes) }

// stopped turns a wait for the batch in flight that shutdown interrupted
// into a clean shutdown; a failed write ends the worker.
func (l *loop) stopped(ctx context.Context, err error) error {
	if ctx.Err() != nil && l.failed == nil {
		return l.shutdown(ctx)
	}
	return err
}

// shutdown lands the batch in flight, makes what is pending durable and
// commits it, within a bounded time, so a SIGTERM loses nothing and
// replays little.
func (l *loop) shutdown(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.cfg.ShutdownTimeout)
	defer cancel()
	// The budget covers the write in flight and the last one together.
	stop := context.AfterFunc(sctx, l.cancelWrites)
	defer stop()
	err := l.seal(sctx)
	if err == nil {
		err = l.wait(sctx)
	}
	if err != nil {
		l.log.Warn("final flush failed; the uncommitted records will be replayed", "err", err)
	}
	return nil
}

// drain stops the write in flight, if any, and waits for it to return, so
// no goroutine outlives the worker or touches its processor afterwards.
func (l *loop) drain() {
	l.cancelWrites()
	if l.inflight == nil {
		return
	}
	if err := l.landed(<-l.inflight.done); err != nil {
		l.log.Warn("a batch in flight was not stored; its records will be replayed", "err", err)
	}
}

// landing is the result of the batch in flight; nil (never ready) when
// none is.
func (l *loop) landing() <-chan error {
	if l.inflight == nil {
		return nil
	}
	return l.inflight.done
}

// wait waits for the batch in flight, if any, to land, or for ctx to end.
func (l *loop) wait(ctx context.Context) error {
	if l.inflight == nil {
		return l.failed
	}
	select {
	case err := <-l.inflight.done:
		return l.landed(err)
	case <-ctx.Done():
		return fmt.Errorf("waiting for the batch in flight: %w", ctx.Err())
	}
}

// landed takes the result of the batch in flight: on success, its offsets
// are committed; on failure, nothing after it ever is.
func (l *loop) landed(err error) error {
	f := l.inflight
	l.inflight = nil
	if err != nil {
		l.failed = err
		return err
	}
	now := time.Now()
	latency := l.metrics.VisibleLatency.WithLabelValues(l.stage)
	for _, t := range f.producedAt {
		latency.Observe(now.Sub(t).Seconds())
	}
	l.spareTimes = f.producedAt[:0]
	l.commit(f.next)
	return nil
}

// seal hands the pending batch to a background write, after the batch in
// flight has landed. With nothing pending it retries a commit that failed:
// everything processed is durable then.
func (l *loop) seal(ctx context.Context) error {
	if err := l.wait(ctx); err != nil {
		return err
	}
	l.sealDue = false
	if l.proc.Pending() == 0 {
		if l.lastOffset >= l.committed {
			l.commit(l.lastOffset + 1)
		}
		return nil
	}
	f := &flight{next: l.lastOffset + 1, producedAt: l.producedAt, done: make(chan error, 1)}
	write := l.proc.Seal()
	l.producedAt, l.spareTimes = l.spareTimes, nil
	l.pendingBytes = 0
	l.inflight = f
	go func() { f.done <- l.write(write) }()
	return nil
}

func (l *loop) commit(next int64) {
	if err := l.claim.Commit(next); err != nil {
		// Not fatal: the next commit covers these offsets, and a lost
		// commit only means an idempotent replay.
		l.metrics.CommitErrors.WithLabelValues(l.stage).Inc()
		l.log.Warn("offset commit failed", "offset", next, "err", err)
		return
	}
	l.committed = next
	l.metrics.Commits.WithLabelValues(l.stage).Inc()
	l.reportFlushed()
}

// write runs on its own goroutine, so it reads only what does not change
// while the worker runs. It retries transient errors with capped, jittered
// backoff until the batch is durable or the writes are cancelled: the
// offset must not move past data that is not stored.
func (l *loop) write(write func(context.Context) error) error {
	ctx := l.writeCtx
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		start := time.Now()
		err := write(ctx)
		if err == nil {
			l.metrics.FlushDuration.WithLabelValues(l.stage).Observe(time.Since(start).Seconds())
			return nil
		}
		l.metrics.FlushErrors.WithLabelValues(l.stage).Inc()
		l.reportFlushFailed()
		if errors.Is(err, ErrPermanent) {
			return err
		}
		l.log.Warn("flush failed; retrying", "attempt", attempt, "err", err)
		wait := backoff/2 + rand.N(backoff/2+1) // #nosec G404 -- jitter, not a secret
		select {
		case <-ctx.Done():
			return fmt.Errorf("flush abandoned: %w", err)
		case <-time.After(wait):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}
