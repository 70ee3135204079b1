package sqlite

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/signindiag/signindiag/sinks"
)

// walSync makes commits durable without holding up the writer. The
// writer commits with synchronous=NORMAL: its transactions are written to
// the write-ahead log, atomic and in order, but not fsynced. A write then
// waits for an fsync of the log that began after its commit, as
// synchronous=FULL would have done inside the commit. One fsync covers
// every commit before it, and it runs outside the writer's turn, so the
// next group's inserts overlap it: at a million stored sign-ins a commit
// writes tens of megabytes of index pages to the log, and their fsync
// was a quarter of the writer's time.
//
// A checkpoint copies the log into the database file and fsyncs that file
// before the log starts over (synchronous=NORMAL does so), so a commit
// whose frames are overwritten afterwards was made durable by the
// checkpoint.
type walSync struct {
	path string
	// sync flushes the log file to disk: (*os.File).Sync, or a test's hook.
	sync func(*os.File) error
	off  bool // SyncNormal: no fsync per write

	mu        sync.Mutex
	f         *os.File // the log, opened at the first fsync
	committed uint64   // commits so far
	synced    uint64   // commits known durable
	syncing   chan struct{}
}

func newWALSync(dbPath string, off bool) *walSync {
	return &walSync{path: dbPath + "-wal", sync: (*os.File).Sync, off: off}
}

// commit counts a committed transaction and returns its number, for
// durable (called under Store.mu, right after the commit).
func (w *walSync) commit() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.committed++
	return w.committed
}

// durable returns once commit number seq is on disk. The caller that
// finds no fsync running starts one covering every commit so far; the
// others wait for it. Should ctx end first, the commit stays stored, not
// known to be durable: the caller's retry rewrites it, which the store
// takes as a replay.
func (w *walSync) durable(ctx context.Context, seq uint64) error {
	if w.off {
		return nil
	}
	for {
		w.mu.Lock()
		if w.synced >= seq {
			w.mu.Unlock()
			return nil
		}
		if running := w.syncing; running != nil {
			w.mu.Unlock()
			select {
			case <-running:
				continue
			case <-ctx.Done():
				return fmt.Errorf("sqlite: wait for the log's fsync: %w", ctx.Err())
			}
		}
		target := w.committed
		done := make(chan struct{})
		w.syncing = done
		err := w.open()
		f := w.f
		w.mu.Unlock()
		if err == nil {
			err = w.sync(f)
		}
		w.mu.Lock()
		if err == nil && target > w.synced {
			w.synced = target
		}
		w.syncing = nil
		close(done)
		w.mu.Unlock()
		if err != nil {
			// After a failed fsync the kernel may have dropped the pages it
			// could not write, and a later fsync can succeed without them:
			// nothing since the last good one can be trusted, so stop.
			return fmt.Errorf("sqlite: fsync %s: %w: %w", w.path, sinks.ErrPermanent, err)
		}
	}
}

// open opens the log file (w.mu held); it exists once a transaction has
// been committed in WAL mode, and lives as long as the writer's
// connection.
func (w *walSync) open() error {
	if w.f != nil {
		return nil
	}
	f, err := os.OpenFile(w.path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	w.f = f
	return nil
}

func (w *walSync) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}
