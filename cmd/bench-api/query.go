package main

import (
	"context"
	"log/slog"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	chstore "github.com/signindiag/signindiag/sinks/clickhouse"
)

func openConn(ctx context.Context, addr string) (driver.Conn, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}})
	if err != nil {
		return nil, err
	}
	return conn, conn.Ping(ctx)
}

func countSignIns(ctx context.Context, conn driver.Conn, db string) (uint64, error) {
	var n uint64
	var exists uint8
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = 'signins'", db).Scan(&n); err != nil {
		return 0, err
	}
	_ = exists
	if n == 0 {
		return 0, nil
	}
	err := conn.QueryRow(ctx, "SELECT count() FROM "+db+".signins").Scan(&n)
	return n, err
}

func measure(ctx context.Context, o options, store *chstore.Store, conn driver.Conn, log *slog.Logger) error {
	return nil
}
