// Package groupcommit lets the pipeline's partition workers, which flush
// on their own and so often at the same moment, share one write to a
// store: the writer that takes the turn writes every batch queued by then
// in one go (one transaction, or one insert per table), and each caller
// returns once its batch is durable, with an error of its own.
package groupcommit

import (
	"context"
	"sync"

	"github.com/signindiag/signindiag/sinks"
)

// WriteAll stores batches together. failed reports that a batch's rows
// were refused, as opposed to the store failing as a whole: the group is
// then written again one batch at a time, so a batch is stored whole or
// not at all and its error is its own.
type WriteAll func(ctx context.Context, batches []*sinks.Batch) (failed bool, err error)

// Group queues the batches waiting for their turn.
type Group struct {
	turn  sync.Mutex // one group at a time
	qmu   sync.Mutex // guards queue
	queue []*pending
}

type pending struct {
	batch *sinks.Batch
	err   error
	done  chan struct{}
}

// Write stores b with the batches queued beside it through write, and
// returns b's error. The group's write runs to its end even if ctx ends:
// other callers' batches are in it, and write bounds its own time.
func (g *Group) Write(ctx context.Context, b *sinks.Batch, write WriteAll) error {
	p := &pending{batch: b, done: make(chan struct{})}
	g.qmu.Lock()
	g.queue = append(g.queue, p)
	g.qmu.Unlock()
	g.turn.Lock()
	defer g.turn.Unlock()
	select {
	case <-p.done: // written by the caller before us
		return p.err
	default:
	}
	g.qmu.Lock()
	group := g.queue
	g.queue = nil
	g.qmu.Unlock()
	wctx := context.WithoutCancel(ctx)
	batches := make([]*sinks.Batch, len(group))
	for i, q := range group {
		batches[i] = q.batch
	}
	if failed, err := write(wctx, batches); failed && len(group) > 1 {
		for _, q := range group {
			_, q.err = write(wctx, []*sinks.Batch{q.batch})
		}
	} else {
		for _, q := range group {
			q.err = err
		}
	}
	for _, q := range group {
		close(q.done)
	}
	return p.err
}
