package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/signindiag/signindiag/sinks"
)

// pending is a batch waiting for a transaction.
type pending struct {
	batch *sinks.Batch
	err   error
	done  chan struct{}
}

// Write implements sinks.Writer. Every partition of the pipeline flushes
// on its own, so batches arrive together: the writer that takes the lock
// commits every batch queued by then in one transaction (one fsync, and
// index pages the batches share written once). Should one batch fail, the
// transaction is rolled back and each batch of the group is written in a
// transaction of its own, so a batch is stored whole or not at all and
// its error is its own. (Savepoints would give the same, but cost a copy
// of every page a batch changes.) Write returns once its batch is durable.
func (s *Store) Write(ctx context.Context, b *sinks.Batch) error {
	if b.Len() == 0 && len(b.Watermarks) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: write: %w", err)
	}
	p := &pending{batch: b, done: make(chan struct{})}
	s.qmu.Lock()
	s.queue = append(s.queue, p)
	s.qmu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-p.done: // committed by the writer before us
		return p.err
	default:
	}
	s.qmu.Lock()
	group := s.queue
	s.queue = nil
	s.qmu.Unlock()
	// The transaction outlives a caller that gives up: other callers'
	// batches are in it; QueryTimeout bounds it.
	gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.QueryTimeout)
	defer cancel()
	if failed, err := s.commit(gctx, group); failed && len(group) > 1 {
		for _, q := range group {
			_, q.err = s.commit(gctx, []*pending{q})
		}
	} else {
		for _, q := range group {
			q.err = err
		}
	}
	for _, q := range group {
		close(q.done)
	}
	return p.err
}

// commit writes batches in one transaction (s.mu held). failed reports
// that a batch failed, as opposed to the transaction itself.
func (s *Store) commit(ctx context.Context, batches []*pending) (failed bool, err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("sqlite: begin write: %w", classify(err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	version := time.Now().UnixNano()
	written := make([]map[upnPair]int64, len(batches))
	for i, p := range batches {
		// Versions are write times; the batches of one transaction still
		// get their own, in queue order.
		if written[i], err = s.writeBatch(ctx, tx, p.batch, version+int64(i)); err != nil {
			return true, err
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("sqlite: commit: %w", classify(err))
	}
	for _, w := range written {
		s.rememberUPNs(w)
	}
	s.checkpointed()
	return false, nil
}
