package clickhouse

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	chschema "github.com/signindiag/signindiag/sinks/clickhouse/schema"
)

// Migrate applies the embedded migrations that the database has not
// recorded yet, in order. Running it again is a no-op: applied versions
// are recorded in schema_migrations, and every statement is IF NOT EXISTS,
// so two processes migrating at once are harmless too.
func (s *Store) Migrate(ctx context.Context) (applied []string, err error) {
	outer := ctx
	ctx, cancel := context.WithTimeout(ctx, 4*s.cfg.QueryTimeout)
	defer cancel()
	boot := []string{
		"CREATE DATABASE IF NOT EXISTS {{db}}",
		`CREATE TABLE IF NOT EXISTS {{db}}.schema_migrations
		 (version UInt32, name String, applied_at DateTime('UTC'))
		 ENGINE = ReplacingMergeTree ORDER BY version`,
	}
	for _, stmt := range boot {
		if err := s.conn.Exec(ctx, s.sql(stmt)); err != nil {
			return nil, fmt.Errorf("clickhouse: prepare migrations: %w", err)
		}
	}
	done, err := s.appliedVersions(ctx)
	if err != nil {
		return nil, err
	}
	files, err := fs.Glob(chschema.Migrations, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("clickhouse: list migrations: %w", err)
	}
	sort.Strings(files)
	for _, name := range files {
		version, err := strconv.Atoi(strings.SplitN(name, "_", 2)[0])
		if err != nil {
			return applied, fmt.Errorf("clickhouse: migration %s: name must start with a number", name)
		}
		if done[uint32(version)] {
			continue
		}
		body, err := fs.ReadFile(chschema.Migrations, name)
		if err != nil {
			return applied, fmt.Errorf("clickhouse: read migration %s: %w", name, err)
		}
		for i, stmt := range splitStatements(string(body)) {
			if err := s.migrateStatement(ctx, outer, stmt); err != nil {
				return applied, fmt.Errorf("clickhouse: migration %s, statement %d: %w", name, i+1, err)
			}
		}
		// INSERT … SELECT: INSERT … VALUES through Exec hangs on 18.16.
		if err := s.conn.Exec(ctx, s.sql("INSERT INTO {{db}}.schema_migrations (version, name, applied_at) SELECT ?, ?, now()"),
			uint32(version), name); err != nil {
			return applied, fmt.Errorf("clickhouse: record migration %s: %w", name, err)
		}
		applied = append(applied, name)
	}
	return applied, nil
}

// backfillTimeout bounds one INSERT … SELECT of a migration: copying the
// rows of an existing table into a new one takes minutes at tens of
// millions of rows, far longer than any other statement.
const backfillTimeout = 2 * time.Hour

// migrateStatement runs a DDL statement under ctx, a backfill under outer
// (the caller's context) with backfillTimeout.
func (s *Store) migrateStatement(ctx, outer context.Context, stmt string) error {
	if strings.HasPrefix(strings.ToUpper(stmt), "INSERT") {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(outer, backfillTimeout)
		defer cancel()
		s.log.Info("clickhouse: backfilling a new table, this may take minutes", "statement", firstLine(stmt))
	}
	return s.conn.Exec(ctx, s.sql(stmt))
}

func firstLine(stmt string) string {
	line, _, _ := strings.Cut(stmt, "\n")
	return line
}

func (s *Store) appliedVersions(ctx context.Context) (map[uint32]bool, error) {
	rows, err := s.conn.Query(ctx, s.sql("SELECT DISTINCT version FROM {{db}}.schema_migrations"))
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read applied migrations: %w", err)
	}
	defer rows.Close()
	done := make(map[uint32]bool)
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("clickhouse: read applied migrations: %w", err)
		}
		done[v] = true
	}
	return done, rows.Err()
}

// splitStatements cuts a migration at semicolons, after dropping comment
// lines; our DDL has no semicolons inside literals.
func splitStatements(body string) []string {
	var b strings.Builder
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	var out []string
	for _, stmt := range strings.Split(b.String(), ";") {
		if stmt = strings.TrimSpace(stmt); stmt != "" {
			out = append(out, stmt)
		}
	}
	return out
}
