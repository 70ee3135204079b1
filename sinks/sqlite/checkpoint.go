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
// a checkpoint has caught up with it before its next transaction. A busy
// writer never pauses for that, so once the log passes walLimit frames a
// last PASSIVE checkpoint runs between two batches, under the writer's
// lock: it copies only what the writer added since the unlocked one.
// Should a reader's snapshot keep even that from catching up, a TRUNCATE
// checkpoint (which waits for readers) shrinks the log.
type checkpointer struct {
	db      *sql.DB
	commits int // since the last kick; under Store.mu
	limit   int // walLimit
	// afterPass, when set (by tests), runs between the unlocked pass and
	// the locked one.
	afterPass func()
	kick      chan struct{}
	cancel    context.CancelFunc
	done      chan struct{}
}

// walLimit is the log size, in frames (one page each), that forces a
// truncation.
const walLimit = 131072

func (s *Store) startCheckpointer(db *sql.DB) {
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{db: db, limit: walLimit, kick: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
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

// checkpoint returns the log's length, in frames, as its first pass
// found it.
func (s *Store) checkpoint(ctx context.Context) (frames int) {
	frames, _, ok := s.checkpointPass(ctx, "PASSIVE")
	if !ok || frames < s.ck.limit {
		return frames
	}
	if s.ck.afterPass != nil {
		s.ck.afterPass()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if now, copied, ok := s.checkpointPass(ctx, "PASSIVE"); !ok || copied == now {
		return frames // copied whole: the writer's next transaction starts the log over
	}
	s.checkpointPass(ctx, "TRUNCATE")
	return frames
}

// checkpointPass runs one checkpoint in mode and returns the log's length
// and how much of it is now in the file, in frames; a failure is logged.
func (s *Store) checkpointPass(ctx context.Context, mode string) (frames, copied int, ok bool) {
	var busy int
	err := s.ck.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &frames, &copied)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("sqlite: checkpoint", "mode", mode, "err", err)
	}
	return frames, copied, err == nil
}

func (c *checkpointer) stop() error {
	c.cancel()
	<-c.done
	return c.db.Close()
}
