package sinks

import (
	"context"
	"time"
)

// Store is a complete storage backend: what the pipeline writes and
// rebuilds its windows from, what the query API and the spike detector
// read, and the backend's lifecycle. cmd/signindiag chooses the backend
// from its configuration (ClickHouse at scale, an embedded SQLite file
// otherwise); sinks/sinkstest holds every backend to the same semantics.
type Store interface {
	Writer
	Reader
	Lister
	Annotations
	FailureSource
	IPFailureSource
	IncidentWarmSource
	SpikeSource

	// Migrate brings the schema up to date and names the migrations it
	// applied; applying them twice is a no-op.
	Migrate(ctx context.Context) (applied []string, err error)
	// Ping reports whether the backend answers.
	Ping(ctx context.Context) error
	// DropExpired removes what happened before the cutoff (the retention)
	// and names what it dropped.
	DropExpired(ctx context.Context, before time.Time) ([]string, error)
	Close() error
}
