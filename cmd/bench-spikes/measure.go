package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/signindiag/signindiag/sinks/clickhouse"
)

func measure(ctx context.Context, st *clickhouse.Store, runs int, out io.Writer, log *slog.Logger) error {
	first, last, rows, err := st.FactsExtent(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "signin_facts: %d rows from %s to %s\n", rows, first, last)
	return nil
}
