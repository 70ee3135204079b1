// Package groupcommit lets the pipeline's partition workers, which flush
// on their own and so often at the same moment, share one write to a
// store: the writer whose turn it is writes every batch queued by then in
// one go (one transaction, or one insert per table), and each caller
// returns once its batch is durable, with an error of its own.
package groupcommit

import (
	"context"
	"slices"
	"sync"
)

// WriteAll stores batches together (a store's batches: *sinks.Batch, or
// what the store made of them before queueing). failed reports that a batch's rows
// were refused, as opposed to the store failing as a whole: the group is
// then written again one batch at a time, so a batch is stored whole or
// not at all and its error is its own.
type WriteAll[B any] func(ctx context.Context, batches []B) (failed bool, err error)

// Group queues the batches waiting for their turn. The zero value is
// ready to use.
type Group[B any] struct {
	mu    sync.Mutex // guards queue and turn
	queue []*pending[B]
	turn  chan struct{} // holds a token while a group is written
}

type pending[B any] struct {
	batch B
	err   error
	done  chan struct{}
}

// Write stores b with the batches queued beside it through write, and
// returns b's error. The group is written under the context of the
// caller whose turn it is: should that caller give up (a shutdown), the
// others get its error and retry on their own. A caller that gives up
// while queued leaves the queue; one whose batch is being written waits
// for that write, so the store never holds a batch its caller reuses.
func (g *Group[B]) Write(ctx context.Context, b B, write WriteAll[B]) error {
	p := &pending[B]{batch: b, done: make(chan struct{})}
	g.mu.Lock()
	g.queue = append(g.queue, p)
	if g.turn == nil {
		g.turn = make(chan struct{}, 1)
	}
	turn := g.turn
	g.mu.Unlock()
	select {
	case turn <- struct{}{}:
		defer func() { <-turn }()
	case <-p.done: // written by the caller whose turn it was
		return p.err
	case <-ctx.Done():
		if g.withdraw(p) {
			return ctx.Err()
		}
		<-p.done // in a group being written: its write ends it
		return p.err
	}
	g.mu.Lock()
	group := g.queue
	g.queue = nil
	g.mu.Unlock()
	if len(group) == 0 { // ours went with the group before
		<-p.done
		return p.err
	}
	batches := make([]B, len(group))
	for i, q := range group {
		batches[i] = q.batch
	}
	if failed, err := write(ctx, batches); failed && len(group) > 1 {
		for _, q := range group {
			_, q.err = write(ctx, []B{q.batch})
		}
	} else {
		for _, q := range group {
			q.err = err
		}
	}
	for _, q := range group {
		close(q.done)
	}
	<-p.done
	return p.err
}

// withdraw takes p out of the queue, if no group has taken it yet.
func (g *Group[B]) withdraw(p *pending[B]) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	i := slices.Index(g.queue, p)
	if i < 0 {
		return false
	}
	g.queue = slices.Delete(g.queue, i, i+1)
	return true
}
