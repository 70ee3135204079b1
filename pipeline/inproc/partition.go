package inproc

import (
	"context"
	"sync"
	"time"

	"github.com/signindiag/signindiag/pipeline/source"
)

// partition is one partition of a topic: an in-memory queue of the records
// not yet fetched, and the offsets a Kafka partition would have. A record
// leaves memory once fetched: the one consumer that reads it holds it until
// its flush made it durable, and a crash loses the process's memory
// anyway; what survives a restart is the store and the committed offsets.
type partition struct {
	topic string
	id    int
	// maxBytes bounds the bytes queued; Append waits for room beyond it,
	// so a fast producer never outruns a slow consumer's memory.
	maxBytes int

	mu        sync.Mutex
	queue     []source.Record
	head      int   // queue[head:] are waiting
	bytes     int   // of queue[head:]
	next      int64 // offset of the next record appended
	committed int64 // the consumer's committed offset (next to read)
	// changed is closed and replaced whenever records arrive or leave,
	// waking fetchers and producers waiting on it.
	changed chan struct{}
}

func newPartition(topic string, id int, start int64, maxBytes int) *partition {
	return &partition{topic: topic, id: id, maxBytes: maxBytes, next: start, committed: start, changed: make(chan struct{})}
}

// signal wakes every waiter; p.mu is held.
func (p *partition) signal() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// append queues one record, waiting while the partition is full (a record
// larger than the bound is queued alone).
func (p *partition) append(ctx context.Context, key, value []byte, at time.Time) error {
	size := len(key) + len(value)
	for {
		p.mu.Lock()
		if p.bytes == 0 || p.bytes+size <= p.maxBytes {
			p.queue = append(p.queue, source.Record{Topic: p.topic, Partition: p.id, Offset: p.next, Key: key, Value: value, Time: at})
			p.next++
			p.bytes += size
			p.signal()
			p.mu.Unlock()
			return nil
		}
		wait := p.changed
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wait:
		}
	}
}

// fetch returns the oldest waiting record, waiting for one.
func (p *partition) fetch(ctx context.Context) (source.Record, error) {
	for {
		p.mu.Lock()
		if p.head < len(p.queue) {
			rec := p.queue[p.head]
			p.queue[p.head] = source.Record{} // let the bytes go
			p.head++
			p.bytes -= len(rec.Key) + len(rec.Value)
			if p.head == len(p.queue) {
				p.queue, p.head = p.queue[:0], 0
			} else if p.head > 1024 && p.head > len(p.queue)/2 {
				p.queue = append(p.queue[:0], p.queue[p.head:]...)
				p.head = 0
			}
			p.signal()
			p.mu.Unlock()
			return rec, nil
		}
		wait := p.changed
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return source.Record{}, ctx.Err()
		case <-wait:
		}
	}
}

// commit records next as the offset to resume from.
func (p *partition) commit(next int64) {
	p.mu.Lock()
	p.committed = next
	p.signal()
	p.mu.Unlock()
}

// state is what the partition holds: records waiting, the next offset and
// the committed one.
func (p *partition) state() (waiting int, next, committed int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue) - p.head, p.next, p.committed
}
