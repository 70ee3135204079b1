package window

import "sync/atomic"

// Budget bounds the keys every window and incident tracker of a process
// track together, so memory stays bounded when failed sign-ins bring user
// names (or source addresses) without end (failed sign-ins let whoever
// tries choose them). Past the budget a new key is refused: its failure is
// stored but not counted live, the counts around it are reported partial
// (Counts.Refused), and its incidents are not raised; never silently
// wrong. Keys come back as they are evicted. Safe for concurrent use by
// the partition workers.
type Budget struct {
	limit   int64
	used    atomic.Int64
	refused atomic.Int64
}

// NewBudget returns a budget of limit keys; limit ≤ 0 means no limit.
func NewBudget(limit int) *Budget { return &Budget{limit: int64(limit)} }

// Acquire takes one key from the budget; false (and counted as refused)
// when it is spent. A nil Budget has no limit.
func (b *Budget) Acquire() bool {
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

// Release gives n keys back.
func (b *Budget) Release(n int) {
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
