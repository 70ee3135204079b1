package sqlite

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/signindiag/signindiag/sinks/sqlite/schema"
)

// Migrate implements sinks.Store: it applies the embedded migrations the
// file has not recorded in schema_migrations, each in one transaction
// with its record, so a crash leaves a migration applied whole or not at
// all, and running it again is a no-op.
func (s *Store) Migrate(ctx context.Context) (applied []string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations
		(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms INTEGER NOT NULL)`); err != nil {
		return nil, fmt.Errorf("sqlite: prepare migrations: %w", classify(err))
	}
	done := map[int]bool{}
	rows, err := s.w.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("sqlite: read applied migrations: %w", classify(err))
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			_ = rows.Close() // the scan error is the one to report
			return nil, fmt.Errorf("sqlite: read applied migrations: %w", err)
		}
		done[v] = true
	}
	_ = rows.Close() // rows.Err reports what went wrong while reading
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: read applied migrations: %w", err)
	}
	files, err := fs.Glob(schema.Migrations, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("sqlite: list migrations: %w", err)
	}
	sort.Strings(files)
	for _, name := range files {
		version, err := strconv.Atoi(strings.SplitN(name, "_", 2)[0])
		if err != nil {
			return applied, fmt.Errorf("sqlite: migration %s: name must start with a number", name)
		}
		if done[version] {
			continue
		}
		body, err := fs.ReadFile(schema.Migrations, name)
		if err != nil {
			return applied, fmt.Errorf("sqlite: read migration %s: %w", name, err)
		}
		if err := s.migrate(ctx, version, name, string(body)); err != nil {
			return applied, err
		}
		applied = append(applied, name)
	}
	return applied, s.loadDocDict(ctx)
}

func (s *Store) migrate(ctx context.Context, version int, name, body string) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: migration %s: %w", name, classify(err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, body); err != nil {
		return fmt.Errorf("sqlite: migration %s: %w", name, classify(err))
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)",
		version, name, time.Now().UnixMilli()); err != nil {
		return fmt.Errorf("sqlite: record migration %s: %w", name, classify(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: migration %s: %w", name, classify(err))
	}
	s.log.Info("sqlite: applied migration", "name", name, "path", s.cfg.Path)
	return nil
}
