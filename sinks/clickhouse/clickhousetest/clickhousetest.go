// Package clickhousetest gives integration tests a real ClickHouse and a
// fresh database per test, dropped when the test ends. The server is
// SIGNINDIAG_CLICKHOUSE_ADDR when set, else a clickhouse/clickhouse-server
// container started once per test binary.
package clickhousetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	tcclickhouse "github.com/testcontainers/testcontainers-go/modules/clickhouse"

	"github.com/signindiag/signindiag/internal/testenv"
	"github.com/signindiag/signindiag/sinks/clickhouse"
)

// Image is the server image for the container path (25.8 LTS).
const Image = "clickhouse/clickhouse-server:25.8"

var (
	once   sync.Once
	server clickhouse.Config
	runErr error
)

// Config returns the settings of a reachable server with a database name
// unique to the test. The database is created by the store's migrations
// and dropped when the test ends.
func Config(t testing.TB) clickhouse.Config {
	t.Helper()
	testenv.Integration(t)
	cfg := clickhouse.Config{DialTimeout: 5 * time.Second, QueryTimeout: 30 * time.Second, User: "default"}
	if addr := testenv.Lookup("SIGNINDIAG_CLICKHOUSE_ADDR"); addr != "" {
		cfg.Addr = addr
		if u := testenv.Lookup("SIGNINDIAG_CLICKHOUSE_USER"); u != "" {
			cfg.User = u
		}
		cfg.Password = testenv.Lookup("SIGNINDIAG_CLICKHOUSE_PASSWORD")
	} else {
		testenv.RequireDocker(t, "SIGNINDIAG_CLICKHOUSE_ADDR")
		once.Do(func() { server, runErr = runContainer() })
		if runErr != nil {
			t.Fatalf("start ClickHouse container: %v", runErr)
		}
		cfg.Addr, cfg.User, cfg.Password = server.Addr, server.User, server.Password
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	cfg.Database = "test_" + hex.EncodeToString(b)
	t.Cleanup(func() { drop(t, cfg) })
	return cfg
}

func runContainer() (clickhouse.Config, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := tcclickhouse.Run(ctx, Image)
	if err != nil {
		return clickhouse.Config{}, err
	}
	host, err := c.ConnectionHost(ctx)
	if err != nil {
		return clickhouse.Config{}, err
	}
	return clickhouse.Config{Addr: host, User: c.User, Password: c.Password}, nil
}

func drop(t testing.TB, cfg clickhouse.Config) {
	conn, err := ch.Open(&ch.Options{Addr: []string{cfg.Addr}, Auth: ch.Auth{Username: cfg.User, Password: cfg.Password}})
	if err != nil {
		t.Logf("drop test database: %v", err)
		return
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+cfg.Database); err != nil {
		t.Logf("drop test database %s: %v", cfg.Database, err)
	}
}
