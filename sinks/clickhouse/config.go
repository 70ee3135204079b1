// Package clickhouse stores sign-ins, flags and findings in ClickHouse and
// reads them back. Every statement runs on the Debian 18.16 server used in
// CI and on current ClickHouse: native protocol, explicit column lists in
// every batch, client-side binding, DateTime('UTC') with a millisecond
// column beside it, the latest version per id at read time.
package clickhouse

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Config locates the server. Environment names carry the SIGNINDIAG_
// prefix (see cmd/signindiag).
type Config struct {
	Addr        string        `env:"ADDR, default=127.0.0.1:9000"`
	Database    string        `env:"DATABASE, default=signindiag"`
	User        string        `env:"USER, default=default"`
	Password    string        `env:"PASSWORD"`
	DialTimeout time.Duration `env:"DIAL_TIMEOUT, default=5s"`
	// QueryTimeout bounds every read and write.
	QueryTimeout time.Duration `env:"QUERY_TIMEOUT, default=30s"`
	// Compression of the native protocol's blocks: lz4 saves network
	// bandwidth to a remote server; none saves CPU on both sides when the
	// server is on the same host or a fast local network.
	Compression string `env:"COMPRESSION, default=lz4"`
	// MaxOpenConns bounds the connection pool (0: 32). Not read from the
	// environment: the binary sizes the API's own pool from its bound on
	// concurrent queries.
	MaxOpenConns int
}

var databaseName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate names the setting that is wrong.
func (c Config) Validate() error {
	var errs []error
	if c.Addr == "" {
		errs = append(errs, errors.New("SIGNINDIAG_CLICKHOUSE_ADDR: expected host:port of the native protocol, got an empty value"))
	}
	if !databaseName.MatchString(c.Database) {
		errs = append(errs, fmt.Errorf("SIGNINDIAG_CLICKHOUSE_DATABASE: expected letters, digits and underscores, got %q", c.Database))
	}
	if c.DialTimeout <= 0 {
		errs = append(errs, fmt.Errorf("SIGNINDIAG_CLICKHOUSE_DIAL_TIMEOUT: expected a positive duration, got %s", c.DialTimeout))
	}
	if _, ok := compressionMethods[c.Compression]; !ok {
		errs = append(errs, fmt.Errorf("SIGNINDIAG_CLICKHOUSE_COMPRESSION: expected lz4, zstd or none, got %q", c.Compression))
	}
	if c.QueryTimeout <= 0 {
		errs = append(errs, fmt.Errorf("SIGNINDIAG_CLICKHOUSE_QUERY_TIMEOUT: expected a positive duration, got %s", c.QueryTimeout))
	}
	return errors.Join(errs...)
}
