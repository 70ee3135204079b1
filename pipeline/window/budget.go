package window

import "sync/atomic"

// Budget bounds the keys every window of a process tracks together, so
// memory stays bounded when failed sign-ins bring user names without end
// (failed sign-ins let whoever tries choose them). Past the budget a new
// key is refused: its failure is stored but not counted live, and the
// counts around it are reported partial (Counts.Refused), never silently
// wrong. Keys come back as windows evict them. Safe for concurrent use by
// the partition workers.
type Budget struct {
	limit   int64
	used    atomic.Int64
	refused atomic.Int64
}

// NewBudget returns a budget of limit keys; limit ≤ 0 means no limit.
func NewBudget(limit int) *Budget { return &Budget{limit: int64(limit)} }

func (b *Budget) acquire() bool {
	if b == nil {
		return true
	}
	if b.limit <= 0 {
		b.used.Add(1)
		return true
	}
	for {
		n := b.used.Load()
		if n >= b.limit {
			b.refused.Add(1)
			return false
		}
		if b.used.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (b *Budget) release(n int) {
	if b != nil && n > 0 {
		b.used.Add(-int64(n))
	}
}

// Used is the number of keys tracked now.
func (b *Budget) Used() int64 { return b.used.Load() }

// Refused counts the new keys refused since the start.
func (b *Budget) Refused() int64 { return b.refused.Load() }

// Limit is the budget (≤ 0: none).
func (b *Budget) Limit() int64 { return b.limit }
