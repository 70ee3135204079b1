package sqlite_test

import (
	"testing"

	"github.com/signindiag/signindiag/sinks"
	"github.com/signindiag/signindiag/sinks/sinkstest"
)

// TestConformance holds the SQLite store to the semantics every backend
// shares. Nothing settles in the background (no merges), so Settle is nil.
func TestConformance(t *testing.T) {
	sinkstest.Run(t, sinkstest.Backend{Open: func(t *testing.T) sinks.Store { return open(t) }, Transactional: true})
}
