// Package pipelinetest helps test pipeline stages the way the
// per-partition loop drives them.
package pipelinetest

import (
	"context"
	"testing"
)

// WriteBehind writes sealed batches in the background, one at a time, as
// the loop does (pipeline.Processor.Seal): the stage processes the next
// batch while the last is written.
type WriteBehind struct {
	t       testing.TB
	pending chan error
}

// NewWriteBehind returns a WriteBehind failing t on a write's error.
func NewWriteBehind(t testing.TB) *WriteBehind { return &WriteBehind{t: t} }

// Seal waits for the write before it, then seals the next batch and
// starts its write. In that order: a processor reuses the memory of the
// batch written before (pipeline.Processor.Seal).
func (w *WriteBehind) Seal(ctx context.Context, seal func() func(context.Context) error) {
	w.Wait()
	write := seal()
	done := make(chan error, 1)
	w.pending = done
	go func() { done <- write(ctx) }()
}

// Wait waits for the write in flight, if any.
func (w *WriteBehind) Wait() {
	w.t.Helper()
	if w.pending == nil {
		return
	}
	err := <-w.pending
	w.pending = nil
	if err != nil {
		w.t.Fatal(err)
	}
}
