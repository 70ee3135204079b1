// Package clickhouse stores sign-ins, flags and findings in ClickHouse and
// reads them back. Every statement runs on the Debian 18.16 server used in
// CI and on current ClickHouse: native protocol, explicit column lists in
// every batch, client-side binding, DateTime('UTC') with a millisecond
// column beside it, the latest version per id at read time.
package clickhouse

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"
)

// Config locates the server. Environment names carry the SIGNINDIAG_
// prefix (see cmd/signindiag).
type Config struct {
	Addr     string `env:"ADDR, default=127.0.0.1:9000"`
	Database string `env:"DATABASE, default=signindiag"`
	User     string `env:"USER, default=default"`
	Password string `env:"PASSWORD"`
	// PasswordFile holds the password instead (without a trailing
	// newline), so it stays out of the process environment.
	PasswordFile string `env:"PASSWORD_FILE"`
	// TLS to the native protocol (the server's tcp_port_secure, 9440 by
	// default): the system's roots or TLSCAFile, the address's host or
	// TLSServerName. TLSInsecureSkipVerify turns verification off (tests
	// against a self-signed server only; never the default).
	TLS                   bool          `env:"TLS, default=false"`
	TLSCAFile             string        `env:"TLS_CA_FILE"`
	TLSServerName         string        `env:"TLS_SERVER_NAME"`
	TLSInsecureSkipVerify bool          `env:"TLS_INSECURE_SKIP_VERIFY, default=false"`
	DialTimeout           time.Duration `env:"DIAL_TIMEOUT, default=5s"`
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
	if c.Password != "" && c.PasswordFile != "" {
		errs = append(errs, errors.New("SIGNINDIAG_CLICKHOUSE_PASSWORD_FILE: set either SIGNINDIAG_CLICKHOUSE_PASSWORD or SIGNINDIAG_CLICKHOUSE_PASSWORD_FILE, not both"))
	}
	if !c.TLS && (c.TLSCAFile != "" || c.TLSServerName != "" || c.TLSInsecureSkipVerify) {
		errs = append(errs, errors.New("SIGNINDIAG_CLICKHOUSE_TLS: the TLS_* settings need SIGNINDIAG_CLICKHOUSE_TLS=true"))
	}
	if c.QueryTimeout <= 0 {
		errs = append(errs, fmt.Errorf("SIGNINDIAG_CLICKHOUSE_QUERY_TIMEOUT: expected a positive duration, got %s", c.QueryTimeout))
	}
	return errors.Join(errs...)
}

// password is Password, or the content of PasswordFile.
func (c Config) password() (string, error) {
	if c.PasswordFile == "" {
		return c.Password, nil
	}
	b, err := os.ReadFile(c.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("SIGNINDIAG_CLICKHOUSE_PASSWORD_FILE: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// tlsConfig is nil without TLS.
func (c Config) tlsConfig() (*tls.Config, error) {
	if !c.TLS {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TLSServerName, InsecureSkipVerify: c.TLSInsecureSkipVerify} //nolint:gosec // off unless asked for
	if c.TLSCAFile != "" {
		pem, err := os.ReadFile(c.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("SIGNINDIAG_CLICKHOUSE_TLS_CA_FILE: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("SIGNINDIAG_CLICKHOUSE_TLS_CA_FILE: %s holds no PEM certificate", c.TLSCAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}
