package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// checkpointer copies the write-ahead log into the database file on a
// connection of its own, every few commits, so a batch's commit never pays
// for it (SQLite's automatic checkpoint runs in the committing writer),
// and an index page that several batches changed is copied once.
// PASSIVE checkpoints wait for nobody; the writer starts the log over once
// a checkpoint has caught up. Should readers keep the log from restarting
// until it passes walLimit frames, a TRUNCATE checkpoint between two
// batches (under the writer's lock) shrinks it.
type checkpointer struct {
	db      *sql.DB
	commits int // since the last kick; under Store.mu
	kick    chan struct{}
	cancel  context.CancelFunc
	done    chan struct{}
}

// walLimit is the log size, in frames (one page each), that forces a
// truncation.
const walLimit = 131072

func (s *Store) startCheckpointer(db *sql.DB) {
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{db: db, kick: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	s.ck = c
	go func() {
		defer close(c.done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-c.kick:
			case <-tick.C:
			}
			s.checkpoint(ctx)
		}
	}()
}

// commitsPerCheckpoint is how many commits a checkpoint waits for (a
// ticker catches a quiet writer's last ones).
const commitsPerCheckpoint = 4

// checkpointed tells the checkpointer a transaction was committed
// (s.mu held).
func (s *Store) checkpointed() {
	if s.ck.commits++; s.ck.commits < commitsPerCheckpoint {
		return
	}
	s.ck.commits = 0
	select {
	case s.ck.kick <- struct{}{}:
	default:
	}
}

func (s *Store) checkpoint(ctx context.Context) {
	var busy, frames, done int
	if err := s.ck.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &done); err != nil {
		if ctx.Err() == nil {
			s.log.Warn("sqlite: checkpoint", "err", err)
		}
		return
	}
	if frames < walLimit {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ck.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &done); err != nil && ctx.Err() == nil {
		s.log.Warn("sqlite: truncating checkpoint", "err", err)
	}
}

func (c *checkpointer) stop() error {
	c.cancel()
	<-c.done
	return c.db.Close()
}
