// Package sqlite is the embedded implementation of sinks.Store: one SQLite
// file (pure Go, modernc.org/sqlite), for deployments without ClickHouse.
//
// One writer connection in WAL mode takes the batches as transactions,
// each durable (fsynced) before its Write returns; a pool of read-only
// connections serves the API, and readers never wait for the writer. A
// mutex in front of the writer serialises the store's own writes, so
// SQLite never answers SQLITE_BUSY within one process.
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/signindiag/signindiag/sinks"
	"github.com/signindiag/signindiag/sinks/groupcommit"
)

// Config locates and tunes the database file. Environment names carry
// the SIGNINDIAG_ prefix and a prefix of cmd's choosing, as the ClickHouse
// store's do; zero values take the defaults below.
type Config struct {
	// Path is the database file; its directory is created when missing.
	Path string `env:"PATH"`
	// ReadConns bounds the read pool (default 4).
	ReadConns int `env:"READ_CONNS, default=4"`
	// CacheMB is each connection's page cache (default 64).
	CacheMB int `env:"CACHE_MB, default=64"`
	// BusyTimeout is how long a connection waits for a lock another
	// process holds (default 5s).
	BusyTimeout time.Duration `env:"BUSY_TIMEOUT, default=5s"`
	// QueryTimeout bounds one read or write (default 30s).
	QueryTimeout time.Duration `env:"QUERY_TIMEOUT, default=30s"`
	// PageSize is the page size of a new file, in bytes (default 4096; a
	// file keeps the size it was created with). A commit writes every
	// index page it changed, and a batch's sign-ins change one page per
	// sign-in in each index on a random key: smaller pages, fewer bytes,
	// down to the operating system's 4 KB (2 KB pages wrote more).
	PageSize int `env:"PAGE_SIZE, default=4096"`
	// SyncNormal trades the durability of the last batches on power loss
	// for speed (no fsync per write); by default a Write returns once an
	// fsync of the log covers its commit, as sinks.Writer requires.
	SyncNormal bool `env:"SYNC_NORMAL, default=false"`
}

func (c Config) withDefaults() Config {
	if c.ReadConns <= 0 {
		c.ReadConns = 4
	}
	if c.CacheMB <= 0 {
		c.CacheMB = 64
	}
	if c.BusyTimeout <= 0 {
		c.BusyTimeout = 5 * time.Second
	}
	if c.PageSize <= 0 {
		c.PageSize = 4096
	}
	if c.QueryTimeout <= 0 {
		c.QueryTimeout = 30 * time.Second
	}
	return c
}

// Store is the SQLite implementation of sinks.Store.
type Store struct {
	cfg Config
	log *slog.Logger
	// mu serialises the writer: SQLite has one writer at a time, and
	// waiting here is cheaper and clearer than SQLITE_BUSY retries.
	mu sync.Mutex
	// group queues the batches waiting for the writer (groupcommit.go).
	group groupcommit.Group[*preparedBatch]
	// dict is the dictionary new documents are compressed with (nil until
	// learned); dicts caches every dictionary read, by id (docdict.go).
	dict  atomic.Pointer[docDict]
	dicts sync.Map
	// wal makes commits durable (durability.go).
	wal *walSync
	// upns are the UPN mappings known to be stored, with the seen_ms
	// they were written with (see batchWriter.upns); under mu.
	upns map[upnPair]int64
	w    *sql.DB // one connection
	r    *sql.DB // read-only pool
	ck   *checkpointer
}

var _ sinks.Store = (*Store)(nil)

// Open creates the file (and its directory) when missing and opens the
// writer and the read pool. Call Migrate before use.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*Store, error) {
	if cfg.Path == "" {
		return nil, fmt.Errorf("sqlite: %w: a database path is required", sinks.ErrPermanent)
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.Default()
	}
	if dir := filepath.Dir(cfg.Path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("sqlite: create %s: %w", dir, err)
		}
	}
	common := []string{
		fmt.Sprintf("busy_timeout(%d)", cfg.BusyTimeout.Milliseconds()),
		fmt.Sprintf("cache_size(-%d)", cfg.CacheMB*1024),
		"temp_store(MEMORY)",
	}
	w, err := sql.Open("sqlite", dsn(cfg.Path, append([]string{
		// The page size of a new file; it must be set before anything is
		// written, WAL mode included, which is why journal_mode is set
		// below and not here: the driver runs these in the order of
		// their names.
		fmt.Sprintf("page_size(%d)", cfg.PageSize),
		// Commits are not fsynced by the writer: a write waits for an
		// fsync of the log outside the writer's turn (durability.go).
		"synchronous(NORMAL)",
		// Checkpoints run on their own connection (checkpoint.go), not
		// in the committing writer.
		"wal_autocheckpoint(0)",
		"journal_size_limit(268435456)",
	}, common...), "immediate"))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", cfg.Path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &Store{cfg: cfg, log: log, w: w, upns: make(map[upnPair]int64), wal: newWALSync(cfg.Path, cfg.SyncNormal)}
	// The writer first: it switches the file to WAL before readers open it.
	if err := s.pingDB(ctx, w); err != nil {
		_ = w.Close()
		return nil, err
	}
	if _, err := w.ExecContext(ctx, "PRAGMA journal_mode=WAL"); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("sqlite: %s: write-ahead logging: %w", cfg.Path, classify(err))
	}
	r, err := sql.Open("sqlite", dsn(cfg.Path, append(common, "query_only(1)"), ""))
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", cfg.Path, err)
	}
	r.SetMaxOpenConns(cfg.ReadConns)
	r.SetMaxIdleConns(cfg.ReadConns)
	s.r = r
	if err := s.pingDB(ctx, r); err != nil {
		_ = s.Close()
		return nil, err
	}
	ck, err := sql.Open("sqlite", dsn(cfg.Path, common, ""))
	if err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", cfg.Path, err)
	}
	ck.SetMaxOpenConns(1)
	s.startCheckpointer(ck)
	return s, nil
}

// dsn builds a modernc.org/sqlite data source name with pragmas run on
// every new connection.
func dsn(path string, pragmas []string, txlock string) string {
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	if txlock != "" {
		q.Set("_txlock", txlock)
	}
	return "file:" + path + "?" + q.Encode()
}

// Ping checks that the file answers to both the writer and the readers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pingDB(ctx, s.w); err != nil {
		return err
	}
	return s.pingDB(ctx, s.r)
}

func (s *Store) pingDB(ctx context.Context, db *sql.DB) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	var one int
	if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("sqlite: ping %s: %w", s.cfg.Path, err)
	}
	return nil
}

// Close closes the readers and the writer.
func (s *Store) Close() error {
	var err error
	if s.ck != nil {
		err = s.ck.stop()
	}
	if s.r != nil {
		if cerr := s.r.Close(); err == nil {
			err = cerr
		}
	}
	if cerr := s.w.Close(); err == nil {
		err = cerr
	}
	if cerr := s.wal.close(); err == nil {
		err = cerr
	}
	return err
}

// timeout bounds one operation.
func (s *Store) timeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.QueryTimeout)
}
