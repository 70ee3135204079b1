package window

import (
	"hash/maphash"
	"sort"
	"time"
)

// Distinct counts, per key, the distinct members seen in (t-length, t]:
// e.g. per source IP, the distinct users whose sign-ins failed. Like Window
// it is pure, event-time and not safe for concurrent use. The stages no
// longer use it (password_spray is a pipeline/incident detection); it is
// kept as the baseline of that package's hot-key benchmark.
type Distinct struct {
	length, lateness int64
	seed             maphash.Seed
	keys             map[string][]sighting // sorted by atMs
	watermark        int64
}

// sighting is one event: 24 bytes.
type sighting struct {
	atMs   int64
	member uint64 // e.g. the user
	item   uint64 // the sign-in: the same one counts once
}

// NewDistinct returns an empty distinct-member window.
func NewDistinct(length, allowedLateness time.Duration) *Distinct {
	return &Distinct{length: length.Milliseconds(), lateness: allowedLateness.Milliseconds(),
		seed: maphash.MakeSeed(), keys: make(map[string][]sighting)}
}

// Observe records that member appeared under key at time at (item
// identifies the event) and returns the distinct members in (at-length, at]
// before and after.
func (d *Distinct) Observe(key, member, item string, at time.Time) Counts {
	ms := at.UnixMilli()
	if ms > d.watermark {
		d.watermark = ms
	}
	before := d.count(key, ms, nil)
	if ms <= d.watermark-d.length-d.lateness {
		return Counts{Before: before, After: before, Late: true}
	}
	m, it := maphash.String(d.seed, member), maphash.String(d.seed, item)
	entries := d.keys[key]
	for _, e := range entries {
		if e.item == it {
			return Counts{Before: before, After: before}
		}
	}
	i := sort.Search(len(entries), func(i int) bool { return entries[i].atMs > ms })
	entries = append(entries, sighting{})
	copy(entries[i+1:], entries[i:])
	entries[i] = sighting{atMs: ms, member: m, item: it}
	d.keys[key] = entries
	return Counts{Before: before, After: d.count(key, ms, nil)}
}

// Count returns the distinct members of key in (at-length, at].
func (d *Distinct) Count(key string, at time.Time) int { return d.count(key, at.UnixMilli(), nil) }

func (d *Distinct) count(key string, ms int64, seen map[uint64]struct{}) int {
	entries := d.keys[key]
	lo := sort.Search(len(entries), func(i int) bool { return entries[i].atMs > ms-d.length })
	hi := sort.Search(len(entries), func(i int) bool { return entries[i].atMs > ms })
	if hi-lo <= 1 {
		return max(hi-lo, 0)
	}
	if seen == nil {
		seen = make(map[uint64]struct{}, hi-lo)
	}
	for _, e := range entries[lo:hi] {
		seen[e.member] = struct{}{}
	}
	return len(seen)
}

// Evict drops what no live count can include any more.
func (d *Distinct) Evict() (evicted int) {
	h := d.watermark - d.length - d.lateness
	for key, entries := range d.keys {
		i := sort.Search(len(entries), func(i int) bool { return entries[i].atMs > h })
		if i == 0 {
			continue
		}
		evicted += i
		if i == len(entries) {
			delete(d.keys, key)
			continue
		}
		d.keys[key] = append(entries[:0], entries[i:]...)
	}
	return evicted
}

// Keys is the number of keys held.
func (d *Distinct) Keys() int { return len(d.keys) }
