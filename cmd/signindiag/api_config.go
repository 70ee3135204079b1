package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/signindiag/signindiag/access"
)

// APIConfig guards and bounds the query API (SIGNINDIAG_API_*).
type APIConfig struct {
	// Keys: comma list of role:token (reader, admin). Empty: no access
	// control, and the API may listen on loopback only.
	Keys Secret `env:"KEYS"`
	// MaxConcurrent API requests at once; more get 429. The API's own
	// ClickHouse pool has as many connections, apart from ingestion's.
	MaxConcurrent int `env:"MAX_CONCURRENT, default=16"`
	// QueryTimeout bounds each API request's queries (the default is the
	// store's own bound per query, CLICKHOUSE_QUERY_TIMEOUT).
	QueryTimeout time.Duration `env:"QUERY_TIMEOUT, default=30s"`
	// MaxRange bounds the from–to range of the list endpoints.
	MaxRange time.Duration `env:"MAX_RANGE, default=744h"`
}

// HTTPConfig are the listener's timeouts and TLS files (SIGNINDIAG_HTTP_*).
type HTTPConfig struct {
	ReadTimeout  time.Duration `env:"READ_TIMEOUT, default=10s"`
	WriteTimeout time.Duration `env:"WRITE_TIMEOUT, default=60s"`
	IdleTimeout  time.Duration `env:"IDLE_TIMEOUT, default=120s"`
	// TLSCertFile and TLSKeyFile (PEM): both set, the listener speaks
	// HTTPS only.
	TLSCertFile string `env:"TLS_CERT_FILE"`
	TLSKeyFile  string `env:"TLS_KEY_FILE"`
}

// Secret is a value that never shows in logs or error messages.
type Secret string

func (Secret) String() string   { return "[redacted]" }
func (Secret) GoString() string { return "[redacted]" }

// MarshalText keeps the secret out of encoded configurations too.
func (Secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

func (c *Config) validateAPI() []error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s%s: %s", envPrefix, name, fmt.Sprintf(format, args...)))
	}
	if _, err := access.ParseKeys(string(c.API.Keys)); err != nil {
		bad("API_KEYS", "expected a comma list of role:token with the roles reader or admin: %v", err)
	}
	if c.API.MaxConcurrent < 1 || c.API.MaxConcurrent > 1000 {
		bad("API_MAX_CONCURRENT", "expected a whole number from 1 to 1000, got %d", c.API.MaxConcurrent)
	}
	if c.API.QueryTimeout <= 0 {
		bad("API_QUERY_TIMEOUT", "expected a positive duration such as 10s, got %s", c.API.QueryTimeout)
	}
	if c.API.MaxRange < time.Hour {
		bad("API_MAX_RANGE", "expected a duration of at least 1h, got %s", c.API.MaxRange)
	}
	for name, d := range map[string]time.Duration{"HTTP_READ_TIMEOUT": c.HTTP.ReadTimeout, "HTTP_WRITE_TIMEOUT": c.HTTP.WriteTimeout,
		"HTTP_IDLE_TIMEOUT": c.HTTP.IdleTimeout} {
		if d <= 0 {
			bad(name, "expected a positive duration, got %s", d)
		}
	}
	if c.HTTP.WriteTimeout > 0 && c.API.QueryTimeout > 0 && c.HTTP.WriteTimeout <= c.API.QueryTimeout {
		bad("HTTP_WRITE_TIMEOUT", "expected more than SIGNINDIAG_API_QUERY_TIMEOUT (%s), so a slow query is answered with 503 rather than cut off; got %s",
			c.API.QueryTimeout, c.HTTP.WriteTimeout)
	}
	if (c.HTTP.TLSCertFile == "") != (c.HTTP.TLSKeyFile == "") {
		bad("HTTP_TLS_CERT_FILE", "set both SIGNINDIAG_HTTP_TLS_CERT_FILE and SIGNINDIAG_HTTP_TLS_KEY_FILE, or neither")
	}
	for name, path := range map[string]string{"HTTP_TLS_CERT_FILE": c.HTTP.TLSCertFile, "HTTP_TLS_KEY_FILE": c.HTTP.TLSKeyFile} {
		if path == "" {
			continue
		}
		if _, err := os.Stat(path); err != nil {
			bad(name, "cannot read %s: %v", path, errors.Unwrap(err))
		}
	}
	return errs
}
