// Package testenv decides where integration tests find their services:
// addresses in SIGNINDIAG_* variables (as `make test` writes them), else
// containers when a Docker engine answers, else a failure that says how to
// provide them. Tests never pass silently without the real services.
package testenv

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
)

// HowToProvide is printed when neither addresses nor Docker are available.
const HowToProvide = `integration tests need Kafka and ClickHouse. Either:
  - run them through 'make test' (starts local Kafka and ClickHouse and exports their addresses), or
  - 'make services-up' then 'set -a; . ./.services.env; set +a' before 'go test ./...', or
  - set SIGNINDIAG_KAFKA_BROKERS and SIGNINDIAG_CLICKHOUSE_ADDR yourself, or
  - make a Docker engine reachable, and testcontainers starts both.
Run 'go test -short ./...' for the unit tests alone.`

var (
	dockerOnce sync.Once
	dockerErr  error
)

// Integration skips the test under -short and returns otherwise.
func Integration(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
}

// Lookup returns an environment variable.
func Lookup(name string) string { return os.Getenv(name) }

// RequireDocker fails the test with HowToProvide unless a Docker engine
// answers.
func RequireDocker(t testing.TB, missing string) {
	t.Helper()
	dockerOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var p *testcontainers.DockerProvider
		p, dockerErr = testcontainers.NewDockerProvider()
		if dockerErr == nil {
			defer p.Close()
			dockerErr = p.Health(ctx)
		}
	})
	if dockerErr != nil {
		t.Fatalf("%s is not set and no Docker engine is reachable (%v).\n%s", missing, dockerErr, HowToProvide)
	}
}
