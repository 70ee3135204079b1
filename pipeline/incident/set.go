package incident

import (
	"time"

	"github.com/signindiag/signindiag/pipeline/window"
	"github.com/signindiag/signindiag/rules"
	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

// Set runs the registered detections of one stage (rules.Detections of
// one key kind) for one partition worker, and gathers the incident rows
// to store at the next flush: one per changed incident, its latest state.
type Set struct {
	dets     []rules.Detection
	trackers []*Tracker
	shard    int
	pending  map[string]sinks.IncidentRecord
	order    []string
}

// SetConfig configures a Set.
type SetConfig struct {
	Detections      []rules.Detection
	Keys            rules.KeyKind
	AllowedLateness time.Duration
	FutureSkew      time.Duration
	Shard           int
	// KeyBudget bounds the keys held with the process's windows
	// (window.Budget); nil: no bound.
	KeyBudget *window.Budget
}

// NewSet keeps the detections of cfg.Keys.
func NewSet(cfg SetConfig) *Set {
	s := &Set{shard: cfg.Shard, pending: map[string]sinks.IncidentRecord{}}
	for _, d := range cfg.Detections {
		if d.Key != cfg.Keys {
			continue
		}
		s.dets = append(s.dets, d)
		s.trackers = append(s.trackers, New(Config{Detection: d.Scenario, Window: d.Window, Threshold: d.Threshold,
			AllowedLateness: cfg.AllowedLateness, FutureSkew: cfg.FutureSkew, Distinct: d.CountsUsers, Keys: cfg.KeyBudget}))
	}
	return s
}

// Release gives the trackers' keys back to the budget (the worker ends).
func (s *Set) Release() {
	for _, t := range s.trackers {
		t.Release()
	}
}

// Names lists the detections of the set.
func (s *Set) Names() []string {
	var out []string
	for _, d := range s.dets {
		out = append(out, d.Scenario)
	}
	return out
}

// Span is how much event time a rebuild must read at least: the longest
// 2W + allowed lateness of the set's detections.
func (s *Set) Span() time.Duration {
	var span time.Duration
	for _, t := range s.trackers {
		span = max(span, time.Duration(2*t.w+t.late)*time.Millisecond)
	}
	return span
}

// Outcome is what one event did.
type Outcome struct {
	// Created lists the detections of incidents this event created.
	Created []string
	// Late: the event was too late for at least one detection it
	// qualified for.
	Late bool
}

// Observe runs an event through every detection it qualifies for (all of
// them when qualified is true: a stored row already filtered). latest is
// the live sign-in, nil during a rebuild; now is the wall clock.
func (s *Set) Observe(c rules.Candidate, qualified bool, identity string, at time.Time, latest *schemas.SignIn, now time.Time) Outcome {
	var out Outcome
	for i := range s.dets {
		d := &s.dets[i]
		if !qualified && !d.Qualifies(c) {
			continue
		}
		key := d.KeyOf(c)
		if key == "" {
			continue
		}
		res := s.trackers[i].Observe(key, identity, d.MemberOf(c, identity), at, now)
		if res.Late {
			out.Late = true
			continue
		}
		for range res.Created {
			out.Created = append(out.Created, d.Scenario)
		}
		s.record(d, res, at, latest)
	}
	return out
}

func (s *Set) record(d *rules.Detection, res Result, at time.Time, latest *schemas.SignIn) {
	for _, in := range res.Updates {
		view := rules.IncidentView{Key: in.Key, Count: in.Count, First: in.First, Last: in.Last}
		if latest != nil && in.Last.Equal(at) {
			view.Latest = latest
		}
		desc := d.Describe(d, view)
		s.put(sinks.IncidentRecord{ID: in.ID, Detection: d.Scenario, Key: in.Key, Start: in.Start, First: in.First, Last: in.Last,
			Count: in.Count, Shard: s.shard, Severity: desc.Severity, Title: desc.Title, Summary: desc.Summary,
			Recommendations: desc.Recommendations})
	}
	for _, sup := range res.Superseded {
		var by Incident // the survivor, always among the updates
		for _, in := range res.Updates {
			if in.ID == sup.By {
				by = in
			}
		}
		s.put(sinks.IncidentRecord{ID: sup.ID, Detection: d.Scenario, Key: sup.Key, Start: sup.Start, First: by.First,
			Last: by.Last, Count: by.Count, SupersededBy: sup.By, Shard: s.shard})
	}
}

func (s *Set) put(r sinks.IncidentRecord) {
	if _, ok := s.pending[r.ID]; !ok {
		s.order = append(s.order, r.ID)
	}
	s.pending[r.ID] = r
}

// Take returns the incident rows gathered since the last Take, in the
// order the incidents first changed, and forgets them.
func (s *Set) Take() []sinks.IncidentRecord {
	if len(s.order) == 0 {
		return nil
	}
	out := make([]sinks.IncidentRecord, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.pending[id])
	}
	clear(s.pending)
	s.order = s.order[:0]
	return out
}

// Evict evicts every tracker (see Tracker.Evict).
func (s *Set) Evict() (evicted int) {
	for _, t := range s.trackers {
		evicted += t.Evict()
	}
	return evicted
}

// Keys is the number of keys the trackers hold.
func (s *Set) Keys() (n int) {
	for _, t := range s.trackers {
		n += t.Keys()
	}
	return n
}
