// Package schema embeds the ClickHouse schema migrations: numbered SQL
// files applied in order by sinks/clickhouse. Every statement runs on the
// Debian 18.16 server and on current ClickHouse (see the project README):
// no TTL, no skip indexes, no Bool/DateTime64/Map types.
package schema

import "embed"

// Migrations holds the *.sql files. In them, {{db}} stands for the
// configured database name.
//
//go:embed *.sql
var Migrations embed.FS
