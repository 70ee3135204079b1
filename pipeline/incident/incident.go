// Package incident turns the qualifying events of a windowed detection
// (excessive_failures_48h, mfa_fatigue, password_spray, …) into incidents
// that do not depend on the order in which the events are delivered.
//
// # Semantics
//
// A detection has a key (the user, the source IP), a window W, a threshold
// T and a member of each event that is counted distinct (the sign-in itself
// for a plain count, the user for password_spray). For a key, c(s) is the
// number of distinct members among the key's qualifying events in
// (s−W, s]. An incident of the key exists wherever c(s) ≥ T:
//
//   - An episode is a maximal interval [start, end) of event time during
//     which c(s) ≥ T without interruption. start is the event time of the
//     event that completes the first window reaching T; the episode ends
//     when the count falls back below T, and a later crossing is a new
//     episode with a new id.
//   - Its members are the key's qualifying events in (start−W, end): every
//     event that lies in some window holding at least T. An event can be a
//     member of two consecutive episodes when their windows share it.
//   - Its id is a hash of the detection, the key and start (IncidentID). It
//     reports the first and last member's event time and the number of
//     member events (Count).
//   - Adding events only ever adds to {s : c(s) ≥ T}, so an episode can
//     only grow: later, to the left, or by merging with its neighbours. When
//     a late event moves an episode's start earlier, or bridges two
//     episodes, the merged episode takes the id of its (new, earliest)
//     start and every id it replaces is reported Superseded, pointing at
//     the survivor. After the same set of events has been delivered, in any
//     order, with any duplicates, the incidents that are not superseded are
//     exactly those a brute-force computation over the set gives, with the
//     same ids, times and counts.
//   - An incident is raised (reported in Updates) as soon as the delivered
//     events make c(s) ≥ T anywhere, whichever event completes it: a late
//     event filling an earlier window raises it then.
//
// Events are deduplicated by (event time, sign-in identity): a replayed or
// duplicated sign-in counts once. (A sign-in re-emitted by Entra under the
// same id with another createdDateTime counts at both times.)
//
// # Lateness and watermark
//
// The watermark is the latest event time seen, but never more than the
// wall clock plus FutureSkew: one future-dated event cannot make every
// later event late. An event at or before watermark − W − AllowedLateness
// is late: it is not added (the caller stores it and counts it as late).
// Only late events make the result depend on delivery order.
//
// # Memory and cost
//
// A key keeps its events of the last 2W + AllowedLateness (24 bytes each)
// and its open episodes; Evict drops the rest. With Distinct (members
// repeat), it also keeps, per member, the events a window count can depend
// on (at most about two per window: see keep). Inserting an event costs
// binary searches, a copy of the events after it (none when events arrive
// in time order; the few of the last minutes when they arrive minutes
// late), and O(T) work for each event whose window it enters until T
// distinct members follow it: O(T²) in practice, whatever the number of
// events of the key, including one user failing thousands of times from
// one address. Episode bookkeeping is O(log n).
//
// A Tracker is pure (the wall clock is an argument), belongs to one
// partition worker and is not safe for concurrent use.
package incident

import (
	"hash/maphash"
	"sort"
	"strconv"
	"time"

	"github.com/signindiag/signindiag/pipeline/window"
	"github.com/signindiag/signindiag/schemas"
)

// Config of one detection's tracker.
type Config struct {
	Detection       string
	Window          time.Duration
	Threshold       int
	AllowedLateness time.Duration
	// FutureSkew bounds how far past the wall clock the watermark may move.
	FutureSkew time.Duration
	// Distinct: members may repeat (password_spray counts users, not
	// sign-ins), so the tracker keeps a thinned copy of the events for the
	// window computations (see keep).
	Distinct bool
	// Keys bounds the keys held with every other tracker and window of
	// the process (window.Budget); nil: no bound.
	Keys *window.Budget
}

// DefaultFutureSkew is how far ahead of the wall clock event times may move
// the watermark.
const DefaultFutureSkew = 15 * time.Minute

// Incident is the state of one episode after an event.
type Incident struct {
	ID        string
	Detection string
	Key       string
	// Start is when the count first reached the threshold; First and
	// Last are the earliest and latest members' event times.
	Start, First, Last time.Time
	Count              int
}

// Superseded names an incident id replaced by another (a late event moved
// its start or merged it with a neighbour).
type Superseded struct {
	ID, Key, By string
	// Start is the superseded incident's own start.
	Start time.Time
}

// Result is what one observed event changed.
type Result struct {
	// Late: the event fell behind the allowed lateness and was not added.
	Late bool
	// Duplicate: the same sign-in at the same time was already counted.
	Duplicate bool
	// Refused: the key was new and the key budget spent, so the event was
	// not added (and no incident of the key is raised while that lasts).
	Refused bool
	// Created counts the incidents this event created, merges aside.
	Created int
	// Updates are the incidents the event created, grew or merged, in
	// their new state.
	Updates []Incident
	// Superseded are the ids the updates replace.
	Superseded []Superseded
}

// IncidentID is the deterministic id of the episode of detection and key
// that starts at start.
func IncidentID(detection, key string, start time.Time) string {
	return schemas.FindingID("incident", detection, key, strconv.FormatInt(start.UnixMilli(), 10))
}

// entry is one qualifying event: 24 bytes.
type entry struct {
	at     int64  // event time, Unix milliseconds
	id     uint64 // hash of the sign-in identity
	member uint64 // hash of what is counted distinct
}

func (e entry) less(at int64, id uint64) bool { return e.at < at || e.at == at && e.id < id }

type episode struct {
	start, end int64 // [start, end): count ≥ threshold
	first      int64 // earliest member, kept once members are evicted
	evicted    int   // members already evicted
	id         string
}

type keyState struct {
	events   []entry        // sorted by (at, id): every member event
	episodes []episode      // sorted by start, disjoint and not touching
	dist     *distinctState // Distinct mode only
}

// distinctState holds, in Distinct mode, the events the window
// computations need (cov, sorted by (at, id); without Distinct they read
// events) and the same per member (kept).
type distinctState struct {
	cov  []entry
	kept map[uint64][]entry
}

// Tracker follows the episodes of one detection over many keys.
type Tracker struct {
	cfg       Config
	w, late   int64
	skew      int64
	seed      maphash.Seed
	keys      map[string]*keyState
	watermark int64
	entries   int
	after     []uint64 // scratch of Observe
	seen      []uint64 // scratch of crossing
	touched   idSet    // scratch of Observe
}

// New returns an empty tracker.
func New(cfg Config) *Tracker {
	if cfg.FutureSkew <= 0 {
		cfg.FutureSkew = DefaultFutureSkew
	}
	return &Tracker{cfg: cfg, w: cfg.Window.Milliseconds(), late: cfg.AllowedLateness.Milliseconds(),
		skew: cfg.FutureSkew.Milliseconds(), seed: maphash.MakeSeed(), keys: make(map[string]*keyState),
		watermark: -1 << 62}
}

// Detection is the name of the tracked detection.
func (t *Tracker) Detection() string { return t.cfg.Detection }

// Observe adds a qualifying event of key: the sign-in identity id, the
// member counted distinct (id again for a plain count), its event time,
// and the wall clock now (which bounds the watermark).
func (t *Tracker) Observe(key, id, member string, at, now time.Time) Result {
	ms := at.UnixMilli()
	if wm := min(ms, now.UnixMilli()+t.skew); wm > t.watermark {
		t.watermark = wm
	}
	if ms <= t.watermark-t.w-t.late || t.cfg.Threshold <= 0 {
		return Result{Late: ms <= t.watermark-t.w-t.late}
	}
	ks := t.keys[key]
	if ks == nil {
		if !t.cfg.Keys.Acquire() {
			return Result{Refused: true}
		}
		ks = &keyState{}
		t.keys[key] = ks
	}
	e := entry{at: ms, id: maphash.String(t.seed, id), member: maphash.String(t.seed, member)}
	evs := ks.events
	p := len(evs)
	if p > 0 && !evs[p-1].less(e.at, e.id) { // not the in-order append
		p = sort.Search(len(evs), func(i int) bool { return !evs[i].less(e.at, e.id) })
	}
	if p < len(evs) && evs[p].at == e.at && evs[p].id == e.id {
		return Result{Duplicate: true}
	}
	evs = append(evs, entry{})
	copy(evs[p+1:], evs[p:])
	evs[p] = e
	ks.events = evs
	t.entries++

	var res Result
	touched := &t.touched
	*touched = (*touched)[:0]
	cov, cp := evs, p
	if t.cfg.Distinct {
		cp = t.keep(ks, e)
		cov = ks.dist.cov
	}
	// Only the windows that now hold the event can change: those of the
	// events from it on, until T distinct members follow it (their
	// windows reach T without it) or the events leave its window. An
	// event keep found redundant changes no count.
	after := t.after[:0]
	for j := cp; cp >= 0 && j < len(cov) && cov[j].at < ms+t.w; j++ {
		if j > cp && !contains(after, cov[j].member) {
			after = append(after, cov[j].member)
			if len(after) >= t.cfg.Threshold {
				break
			}
		}
		if l, hot := t.crossing(cov, j); hot {
			t.union(key, ks, cov[j].at, l+t.w, touched, &res)
		}
	}
	t.after = after[:0]
	// The event is also a member of any episode whose span holds it.
	eps := ks.episodes
	for k := sort.Search(len(eps), func(k int) bool { return eps[k].end > ms }); k < len(eps) && eps[k].start-t.w < ms; k++ {
		touched.add(eps[k].id)
	}
	for k := range ks.episodes {
		if touched.has(ks.episodes[k].id) {
			res.Updates = append(res.Updates, t.refresh(key, ks, k))
		}
	}
	return res
}

// keep adds e to the events the window computations read (Distinct mode)
// and returns its index there, or -1 when it is redundant. A member's
// event b is redundant when two other events a ≤ b ≤ c of the same member
// (a ≠ b ≠ c) lie less than W apart: every window (s−W, s] holding b then
// holds a or c, so no count depends on b. Dropping redundant events keeps
// every count exactly, whatever the order they arrive in, and leaves a
// member at most about two events per window, so the scans of crossing
// stay O(T) however many times one user fails from one address (a brute
// force on one account is a hot key too).
func (t *Tracker) keep(ks *keyState, e entry) int {
	if ks.dist == nil {
		ks.dist = &distinctState{kept: map[uint64][]entry{}}
	}
	d := ks.dist
	list := d.kept[e.member]
	i := sort.Search(len(list), func(i int) bool { return !list[i].less(e.at, e.id) })
	if i > 0 && list[i-1].at == e.at || i < len(list) && list[i].at == e.at ||
		i > 0 && i < len(list) && list[i].at-list[i-1].at < t.w {
		return -1
	}
	list = append(list, entry{})
	copy(list[i+1:], list[i:])
	list[i] = e
	cp := insertEntry(&d.cov, e)
	// The new event may make its neighbours redundant.
	if i+2 < len(list) && list[i+2].at-e.at < t.w {
		removeEntry(&d.cov, list[i+1])
		list = append(list[:i+1], list[i+2:]...)
	}
	if i >= 2 && e.at-list[i-2].at < t.w {
		if removeEntry(&d.cov, list[i-1]) < cp {
			cp--
		}
		list = append(list[:i-1], list[i:]...)
	}
	d.kept[e.member] = list
	return cp
}

// insertEntry inserts e in a slice sorted by (at, id) and returns its index.
func insertEntry(s *[]entry, e entry) int {
	evs := *s
	p := len(evs)
	if p > 0 && !evs[p-1].less(e.at, e.id) {
		p = sort.Search(len(evs), func(i int) bool { return !evs[i].less(e.at, e.id) })
	}
	evs = append(evs, entry{})
	copy(evs[p+1:], evs[p:])
	evs[p] = e
	*s = evs
	return p
}

// removeEntry removes e from a slice sorted by (at, id) and returns the
// index it had.
func removeEntry(s *[]entry, e entry) int {
	evs := *s
	p := sort.Search(len(evs), func(i int) bool { return !evs[i].less(e.at, e.id) })
	*s = append(evs[:p], evs[p+1:]...)
	return p
}

// crossing reports whether the window ending at event j holds at least T
// distinct members, and the time of the T-th latest distinct one (the
// count stays ≥ T until it leaves the window).
func (t *Tracker) crossing(evs []entry, j int) (int64, bool) {
	seen := t.seen[:0]
	defer func() { t.seen = seen[:0] }()
	from := evs[j].at - t.w
	for i := j; i >= 0 && evs[i].at > from; i-- {
		if !contains(seen, evs[i].member) {
			seen = append(seen, evs[i].member)
			if len(seen) >= t.cfg.Threshold {
				return evs[i].at, true
			}
		}
	}
	return 0, false
}

func contains(s []uint64, v uint64) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// union adds [s, e) to the key's episodes, merging what it overlaps or
// touches.
func (t *Tracker) union(key string, ks *keyState, s, e int64, touched *idSet, res *Result) {
	eps := ks.episodes
	k := sort.Search(len(eps), func(k int) bool { return eps[k].end >= s })
	m := k
	for m < len(eps) && eps[m].start <= e {
		m++
	}
	if m == k { // a new episode
		ep := episode{start: s, end: e, first: s, id: IncidentID(t.cfg.Detection, key, time.UnixMilli(s))}
		eps = append(eps, episode{})
		copy(eps[k+1:], eps[k:])
		eps[k] = ep
		ks.episodes = eps
		touched.add(ep.id)
		res.Created++
		return
	}
	merged := episode{start: min(s, eps[k].start), end: max(e, eps[m-1].end), first: eps[k].first}
	merged.id = eps[k].id
	if merged.start != eps[k].start {
		merged.id = IncidentID(t.cfg.Detection, key, time.UnixMilli(merged.start))
	}
	for _, old := range eps[k:m] {
		merged.evicted += old.evicted
		merged.first = min(merged.first, old.first)
		if old.id != merged.id {
			res.Superseded = append(res.Superseded, Superseded{ID: old.id, Key: key, By: merged.id, Start: time.UnixMilli(old.start).UTC()})
			touched.remove(old.id)
		}
	}
	eps[k] = merged
	ks.episodes = append(eps[:k+1], eps[m:]...)
	touched.add(merged.id)
}

// idSet is a small set of episode ids (an event touches a few).
type idSet []string

func (s *idSet) add(id string) {
	if !s.has(id) {
		*s = append(*s, id)
	}
}

func (s idSet) has(id string) bool {
	for _, x := range s {
		if x == id {
			return true
		}
	}
	return false
}

func (s *idSet) remove(id string) {
	for i, x := range *s {
		if x == id {
			*s = append((*s)[:i], (*s)[i+1:]...)
			return
		}
	}
}

// refresh recomputes episode k's members and returns its state.
func (t *Tracker) refresh(key string, ks *keyState, k int) Incident {
	ep := &ks.episodes[k]
	evs := ks.events
	lo := sort.Search(len(evs), func(i int) bool { return evs[i].at > ep.start-t.w })
	hi := sort.Search(len(evs), func(i int) bool { return evs[i].at >= ep.end })
	if ep.evicted == 0 && hi > lo {
		ep.first = evs[lo].at
	}
	last := ep.first
	if hi > lo {
		last = evs[hi-1].at
	}
	return Incident{ID: ep.id, Detection: t.cfg.Detection, Key: key, Start: time.UnixMilli(ep.start).UTC(),
		First: time.UnixMilli(ep.first).UTC(), Last: time.UnixMilli(last).UTC(), Count: ep.evicted + hi - lo}
}

// Evict drops the events no future window or episode can need (older than
// watermark − 2W − AllowedLateness) and the episodes no accepted event can
// change any more. Call it now and then (the workers call it on every
// flush): it walks every key.
func (t *Tracker) Evict() (evicted int) {
	h := t.watermark - 2*t.w - t.late
	closed := t.watermark - t.w - t.late
	for key, ks := range t.keys {
		evs := ks.events
		i := sort.Search(len(evs), func(i int) bool { return evs[i].at > h })
		if i > 0 {
			for k := range ks.episodes {
				ep := &ks.episodes[k]
				lo := sort.Search(i, func(x int) bool { return evs[x].at > ep.start-t.w })
				hi := sort.Search(i, func(x int) bool { return evs[x].at >= ep.end })
				if hi > lo {
					if ep.evicted == 0 {
						ep.first = evs[lo].at
					}
					ep.evicted += hi - lo
				}
			}
			evicted += i
			t.entries -= i
			if i == len(evs) {
				ks.events = nil
			} else {
				ks.events = append(evs[:0], evs[i:]...)
			}
		}
		if d := ks.dist; d != nil {
			c := sort.Search(len(d.cov), func(i int) bool { return d.cov[i].at > h })
			for _, e := range d.cov[:c] { // each is the earliest kept of its member
				list := d.kept[e.member]
				if len(list) <= 1 {
					delete(d.kept, e.member)
				} else {
					d.kept[e.member] = append(list[:0], list[1:]...)
				}
			}
			d.cov = append(d.cov[:0], d.cov[c:]...)
		}
		eps := ks.episodes[:0]
		for _, ep := range ks.episodes {
			if ep.end > closed {
				eps = append(eps, ep)
			}
		}
		ks.episodes = eps
		if len(ks.events) == 0 && len(ks.episodes) == 0 {
			delete(t.keys, key)
			t.cfg.Keys.Release(1)
		}
	}
	return evicted
}

// Release gives every key back to the budget and empties the tracker: its
// partition has gone to another worker.
func (t *Tracker) Release() {
	t.cfg.Keys.Release(len(t.keys))
	t.keys = make(map[string]*keyState)
	t.entries = 0
}

// Keys is the number of keys held.
func (t *Tracker) Keys() int { return len(t.keys) }

// Entries is the number of events held.
func (t *Tracker) Entries() int { return t.entries }

// Watermark is the watermark (see the package doc).
func (t *Tracker) Watermark() time.Time { return time.UnixMilli(t.watermark).UTC() }
