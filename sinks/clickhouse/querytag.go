package clickhouse

import (
	"context"
	"fmt"
	"sync/atomic"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// tagKey carries a query tag in a context (WithQueryTag).
type tagKey struct{}

// queryTag names the ClickHouse queries of one caller's operation.
type queryTag struct {
	prefix string
	n      atomic.Int64
}

// WithQueryTag names every query the store runs under ctx after tag
// (query ids tag-1, tag-2, …), so the queries of one API request can be
// found in system.query_log. A query id of its own per query, as the
// queries of one request may run at once, and ClickHouse refuses (or,
// with replace_running_query, kills) a second running query of an id.
func WithQueryTag(ctx context.Context, tag string) context.Context {
	return context.WithValue(ctx, tagKey{}, &queryTag{prefix: tag})
}

// taggedConn gives each query run under a tagged context its own id.
type taggedConn struct{ driver.Conn }

func tagged(ctx context.Context) context.Context {
	t, ok := ctx.Value(tagKey{}).(*queryTag)
	if !ok {
		return ctx
	}
	return ch.Context(ctx, ch.WithQueryID(fmt.Sprintf("%s-%d", t.prefix, t.n.Add(1))))
}

func (c taggedConn) Query(ctx context.Context, query string, args ...any) (driver.Rows, error) {
	return c.Conn.Query(tagged(ctx), query, args...)
}

func (c taggedConn) QueryRow(ctx context.Context, query string, args ...any) driver.Row {
	return c.Conn.QueryRow(tagged(ctx), query, args...)
}

func (c taggedConn) Select(ctx context.Context, dest any, query string, args ...any) error {
	return c.Conn.Select(tagged(ctx), dest, query, args...)
}

func (c taggedConn) Exec(ctx context.Context, query string, args ...any) error {
	return c.Conn.Exec(tagged(ctx), query, args...)
}
