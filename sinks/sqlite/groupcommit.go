package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/signindiag/signindiag/sinks"
)

// Write implements sinks.Writer. Every partition of the pipeline flushes
// on its own, so batches arrive together: they share transactions
// (sinks/groupcommit), one fsync and the index pages they share written
// once. Should one batch fail, each batch of the group is written in a
// transaction of its own, so a batch is stored whole or not at all and
// its error is its own. (Savepoints would give the same, but cost a copy
// of every page a batch changes.) The caller prepares its batch's values
// (prepare) before it queues: the writer is the store's serial path.
// Write returns once its batch is durable.
func (s *Store) Write(ctx context.Context, b *sinks.Batch) error {
	if b.Len() == 0 && len(b.Watermarks) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: write: %w", err)
	}
	p, err := prepare(b, s.dict.Load())
	if err != nil {
		return err
	}
	err = s.group.Write(ctx, p, func(ctx context.Context, batches []*preparedBatch) (bool, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
		defer cancel()
		return s.commit(ctx, batches)
	})
	if err != nil {
		return err
	}
	// The writer's turn is over: the next group is written while the log
	// is fsynced for this one.
	return s.wal.durable(ctx, p.commitSeq)
}

// commit writes batches in one transaction (s.mu held). failed reports
// that a batch failed, as opposed to the transaction itself.
func (s *Store) commit(ctx context.Context, batches []*preparedBatch) (failed bool, err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("sqlite: begin write: %w", classify(err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	dict, err := s.learnDocDict(ctx, tx, batches)
	if err != nil {
		return false, fmt.Errorf("sqlite: %w", err)
	}
	version := time.Now().UnixNano()
	written := make([]map[upnPair]int64, len(batches))
	for i, b := range batches {
		// Versions are write times; the batches of one transaction still
		// get their own, in queue order.
		if written[i], err = s.writeBatch(ctx, tx, b, version+int64(i)); err != nil {
			return true, err
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("sqlite: commit: %w", classify(err))
	}
	seq := s.wal.commit()
	for _, b := range batches {
		b.commitSeq = seq
	}
	for _, w := range written {
		s.rememberUPNs(w)
	}
	if dict != nil {
		s.dicts.Store(dict.id, dict.dict)
		s.dict.Store(dict)
	}
	s.checkpointed()
	return false, nil
}
