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
// index pages the batches share written once), each batch within a
// savepoint of its own, so a batch is stored whole or not at all and its
// error is its own. Write returns once its batch is durable.
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
	s.commitGroup(ctx, group)
	<-p.done
	return p.err
}

// commitGroup writes the group in one transaction and completes each
// batch (s.mu held). The transaction outlives a caller that gives up: the
// others' batches are in it; QueryTimeout bounds it.
func (s *Store) commitGroup(ctx context.Context, group []*pending) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.QueryTimeout)
	defer cancel()
	fail := func(err error) {
		for _, p := range group {
			if p.err == nil {
				p.err = err
			}
			close(p.done)
		}
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		fail(fmt.Errorf("sqlite: begin write: %w", classify(err)))
		return
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	version := time.Now().UnixNano()
	written := make([]map[upnPair]int64, len(group))
	for i, p := range group {
		if _, err := tx.ExecContext(ctx, "SAVEPOINT batch"); err != nil {
			fail(fmt.Errorf("sqlite: savepoint: %w", classify(err)))
			return
		}
		// Versions are write times; batches of one transaction still get
		// their own, in queue order.
		written[i], p.err = s.writeBatch(ctx, tx, p.batch, version+int64(i))
		undo := "RELEASE batch"
		if p.err != nil {
			undo = "ROLLBACK TO batch; RELEASE batch"
		}
		if _, err := tx.ExecContext(ctx, undo); err != nil {
			fail(fmt.Errorf("sqlite: %s: %w", undo, classify(err)))
			return
		}
	}
	if err := tx.Commit(); err != nil {
		fail(fmt.Errorf("sqlite: commit: %w", classify(err)))
		return
	}
	for i, p := range group {
		if p.err == nil {
			s.rememberUPNs(written[i])
		}
		close(p.done)
	}
	s.checkpointed()
}
