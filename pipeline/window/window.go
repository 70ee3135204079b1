// Package window keeps per-user failure counts over a sliding event-time
// window (48 hours by default). It is pure: no goroutines, no wall clock, so
// replays are deterministic and tests need no sleeps. One Window belongs to
// one partition worker and is not safe for concurrent use.
package window

import (
	"hash/maphash"
	"sort"
	"time"
)

// failure is one failed sign-in in a user's window: 16 bytes, so memory
// stays proportional to failures, not to event size.
type failure struct {
	atMs   int64  // event time, Unix milliseconds
	idHash uint64 // sign-in id hash: the same sign-in counts once
}

// Window counts distinct failed sign-ins per key in (t-length, t].
type Window struct {
	length   int64 // milliseconds
	lateness int64 // milliseconds
	seed     maphash.Seed
	keys     map[string][]failure // sorted by atMs
	// watermark is the latest event time seen; entries older than
	// watermark-length-lateness can no longer change any live count.
	watermark int64
	budget    *Budget // shared by the process's windows; nil: unbounded
}

// New returns an empty window of the given length. Events older than the
// watermark minus length minus allowedLateness are too late to count.
func New(length, allowedLateness time.Duration) *Window {
	return &Window{
		length:   length.Milliseconds(),
		lateness: allowedLateness.Milliseconds(),
		seed:     maphash.MakeSeed(),
		keys:     make(map[string][]failure),
	}
}

// WithBudget makes the window draw its keys from b (see Budget).
func (w *Window) WithBudget(b *Budget) *Window {
	w.budget = b
	return w
}

// Counts is what a key's window holds around one event.
type Counts struct {
	// Before is the count in (t-length, t] before this event was added.
	Before int
	// After is the count including this event (equal to Before for a
	// success, a duplicate or a late event).
	After int
	// Late is true when the event fell behind the allowed lateness and was
	// not added.
	Late bool
	// Duplicate is true when the window already holds this sign-in at this
	// very time: a replay or a duplicate delivery, not a new version.
	Duplicate bool
	// Refused is true when the key was new and the key budget was spent:
	// the event was not added, and the counts are a lower bound.
	Refused bool
}

// ObserveFailure records a failed sign-in of key at time at and returns the
// counts in (at-length, at].
func (w *Window) ObserveFailure(key, id string, at time.Time) Counts {
	ms := at.UnixMilli()
	w.advance(ms)
	before := w.count(key, ms)
	if ms <= w.horizon() {
		return Counts{Before: before, After: before, Late: true}
	}
	h := maphash.String(w.seed, id)
	entries := w.keys[key]
	i := sort.Search(len(entries), func(i int) bool { return entries[i].atMs >= ms })
	for j := i; j < len(entries) && entries[j].atMs == ms; j++ {
		if entries[j].idHash == h {
			return Counts{Before: before, After: before, Duplicate: true}
		}
	}
	// A duplicate delivered with a different time is still a duplicate;
	// scanning is bounded by the user's window, which is small.
	for _, e := range entries {
		if e.idHash == h {
			return Counts{Before: before, After: before}
		}
	}
	if len(entries) == 0 && !w.budget.Acquire() {
		return Counts{Before: before, After: before, Refused: true}
	}
	entries = append(entries, failure{})
	copy(entries[i+1:], entries[i:])
	entries[i] = failure{atMs: ms, idHash: h}
	w.keys[key] = entries
	return Counts{Before: before, After: before + 1}
}

// Complete reports whether the counts around time at are whole: nothing in
// (at-length, at] can have been evicted or refused as late. It is false for
// an event that arrives later than the allowed lateness (a very late log, or
// a redelivery hours after the original), whose counts may then be low.
func (w *Window) Complete(at time.Time) bool {
	return at.UnixMilli()-w.length >= w.horizon()
}

// Count returns the failures of key in (at-length, at] without adding any.
func (w *Window) Count(key string, at time.Time) int {
	ms := at.UnixMilli()
	w.advance(ms)
	return w.count(key, ms)
}

func (w *Window) count(key string, ms int64) int {
	entries := w.keys[key]
	lo := sort.Search(len(entries), func(i int) bool { return entries[i].atMs > ms-w.length })
	hi := sort.Search(len(entries), func(i int) bool { return entries[i].atMs > ms })
	if hi < lo {
		return 0
	}
	return hi - lo
}

func (w *Window) horizon() int64 { return w.watermark - w.length - w.lateness }

func (w *Window) advance(ms int64) {
	if ms > w.watermark {
		w.watermark = ms
	}
}

// AdvanceTo moves the watermark to at if that is later: a rebuilt window
// starts where the live one stood, which successes moved too.
func (w *Window) AdvanceTo(at time.Time) { w.advance(at.UnixMilli()) }

// Evict drops entries that no live count can include any more. Call it now
// and then (the workers call it on every flush): it walks every key.
func (w *Window) Evict() (evicted int) {
	h := w.horizon()
	for key, entries := range w.keys {
		i := sort.Search(len(entries), func(i int) bool { return entries[i].atMs > h })
		if i == 0 {
			continue
		}
		evicted += i
		if i == len(entries) {
			delete(w.keys, key)
			w.budget.Release(1)
			continue
		}
		w.keys[key] = append(entries[:0], entries[i:]...)
	}
	return evicted
}

// Release gives every key back to the budget and empties the window: its
// partition has gone to another worker.
func (w *Window) Release() {
	w.budget.Release(len(w.keys))
	clear(w.keys)
}

// Keys is the number of keys with failures in the window.
func (w *Window) Keys() int { return len(w.keys) }

// Watermark is the latest event time observed.
func (w *Window) Watermark() time.Time { return time.UnixMilli(w.watermark).UTC() }
