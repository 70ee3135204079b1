// Package retention deletes stored data older than the configured
// retention, now and then, while the process ingests. ClickHouse 18.16 has
// no TTL, so a store drops whole time partitions instead (see
// sinks/clickhouse.Store.DropExpired): data lives at most one partition
// longer than the retention.
package retention

import (
	"context"
	"log/slog"
	"time"
)

// Expirer drops the stored data whose time partition ends before a cutoff
// and names what it dropped.
type Expirer interface {
	DropExpired(ctx context.Context, before time.Time) ([]string, error)
}

// Config of the retention loop.
type Config struct {
	// Keep is how long data is kept; 0 keeps everything.
	Keep time.Duration
	// Every is how often expired data is looked for.
	Every time.Duration
	// Now is the wall clock; nil means time.Now.
	Now func() time.Time
}

// Run drops expired data at once and then every cfg.Every until ctx ends.
// A failed pass is logged and retried at the next one: retention is
// housekeeping, never a reason to stop ingesting. dropped, when not nil,
// is called with the number of partitions each pass dropped.
func Run(ctx context.Context, cfg Config, store Expirer, log *slog.Logger, dropped func(int)) {
	if cfg.Keep <= 0 {
		return
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Every <= 0 {
		cfg.Every = time.Hour
	}
	tick := time.NewTicker(cfg.Every)
	defer tick.Stop()
	for {
		cutoff := cfg.Now().Add(-cfg.Keep)
		names, err := store.DropExpired(ctx, cutoff)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("retention pass failed; retrying at the next", "cutoff", cutoff, "err", err)
		case len(names) > 0:
			log.Info("dropped expired partitions", "cutoff", cutoff, "partitions", names)
		}
		if dropped != nil {
			dropped(len(names))
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
