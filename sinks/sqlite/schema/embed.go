// Package schema holds the SQLite store's migrations, applied in the order
// of their names by sinks/sqlite's Migrate.
package schema

import "embed"

// Migrations are the *.sql files of this directory.
//
//go:embed *.sql
var Migrations embed.FS
