package loadgen

import (
	"math"
	"time"
)

// Shares of the background traffic. Entra tenants log several silent
// token refreshes for every interactive sign-in; after the follow-ups of
// MFA interrupts and bad passwords, non-interactive sign-ins are about six
// times the interactive ones.
const (
	shareServicePrincipal = 0.015
	shareInteractive      = 0.115
)

// Outcomes of an interactive sign-in, cumulative.
var interactiveOutcomes = []struct {
	p float64
	o outcome
}{
	{0.41, outSuccessMFA},
	{0.815, outSuccessSSO},
	{0.871, outMFARequired},
	{0.895, outMFARequiredNew},
	{0.955, outBadPassword},
	{0.985, outCABlocked},
	{0.995, outLockedOut},
	{1, outSuccessSSO},
}

// traffic produces sign-ins in event-time order: a steady background of
// users and service principals, with follow-ups (the success after an MFA
// prompt) and attacks scheduled on a heap and merged in by time.
type traffic struct {
	t         *tenant
	r         *rng
	start     int64
	step      float64 // nanoseconds between background sign-ins
	limit     int     // sign-ins in all; 0 for endless
	emitted   int
	bgIndex   int64
	bg        event
	bgReady   bool
	scheduled eventHeap
	seq       uint64
	burst     int64 // event time between attacks; 0 for none
	period    int32 // the next attack period to schedule
}

func newTraffic(cfg Config, t *tenant) *traffic {
	count := cfg.Count
	if count == 0 {
		count = DefaultEndlessCount
	}
	tr := &traffic{
		t: t, r: newRNG(cfg.Seed, 2), start: cfg.Start.UnixNano(),
		step: float64(cfg.Span) / float64(count), limit: cfg.Count,
	}
	if cfg.BurstEvery > 0 {
		tr.burst = int64(cfg.BurstEvery)
	}
	return tr
}

func (tr *traffic) next() (event, bool) {
	if tr.limit > 0 && tr.emitted >= tr.limit {
		return event{}, false
	}
	if !tr.bgReady {
		tr.bg = tr.background()
		tr.bgReady = true
	}
	for tr.burst > 0 && tr.start+int64(tr.period)*tr.burst <= tr.bg.at {
		tr.scheduleAttacks(tr.period)
		tr.period++
	}
	tr.emitted++
	// A bounded stream stops at Count: follow-ups still scheduled (the
	// completion of a last-minute MFA prompt) are never sent.
	if len(tr.scheduled) > 0 && tr.scheduled.peek().at <= tr.bg.at {
		return tr.scheduled.pop(), true
	}
	tr.bgReady = false
	tr.followUps(&tr.bg)
	return tr.bg, true
}

// newEvent stamps the parts every sign-in has.
func (tr *traffic) newEvent(at int64, k kind, o outcome, who int32) event {
	tr.seq++
	return event{at: at, key: at, seq: tr.seq, salt: tr.r.next(), id: tr.r.newGUID(), corr: tr.r.newGUID(), kind: k, outcome: o, who: who}
}

// background draws the next sign-in of ordinary traffic.
func (tr *traffic) background() event {
	at := tr.start + int64(float64(tr.bgIndex)*tr.step) + int64(tr.r.float()*tr.step)
	tr.bgIndex++
	p := tr.r.float()
	switch {
	case p < shareServicePrincipal:
		o := outSPSuccess
		if tr.r.chance(0.03) {
			o = outSPSecretExpired
		}
		return tr.newEvent(at, kindServicePrincipal, o, int32(tr.r.intn(len(tr.t.sps))))
	case p < shareServicePrincipal+shareInteractive:
		o := outSuccessSSO
		q := tr.r.float()
		for _, c := range interactiveOutcomes {
			if q < c.p {
				o = c.o
				break
			}
		}
		e := tr.newEvent(at, kindInteractive, o, tr.busyUser())
		e.app = int16(tr.r.intn(len(tr.t.apps)))
		e.origin = tr.userOrigin(0.6, 0.05)
		if o == outCABlocked {
			e.origin = fromTravel // the policy blocks countries outside the list
		}
		return e
	default:
		o := outSuccessRefresh
		if q := tr.r.float(); q < 0.015 {
			o = outFrequencyExpired
		} else if q < 0.018 {
			o = outBadPassword // a device still holding an old password
		}
		e := tr.newEvent(at, kindNonInteractive, o, tr.busyUser())
		e.app = tr.t.appsByRefresh[tr.r.intn(len(tr.t.appsByRefresh))]
		e.origin = tr.userOrigin(0.55, 0.03)
		return e
	}
}

// busyUser picks a user with a heavy skew: the cube of a uniform number
// puts a fifth of the traffic on the first percent of the users.
func (tr *traffic) busyUser() int32 {
	u := tr.r.float()
	return int32(float64(len(tr.t.users)) * u * u * u)
}

func (tr *traffic) userOrigin(office, travel float64) origin {
	switch p := tr.r.float(); {
	case p < office:
		return fromOffice
	case p < office+travel:
		return fromTravel
	}
	return fromHome
}

// followUps schedules what a sign-in leads to: the success that completes
// an MFA interrupt (same correlation id), and often a retry after a typo.
func (tr *traffic) followUps(e *event) {
	switch e.outcome {
	case outMFARequired, outMFARequiredNew:
		f := tr.newEvent(e.at+int64(tr.r.between(5, 40))*int64(time.Second), kindInteractive, outSuccessMFA, e.who)
		f.corr, f.app, f.origin = e.corr, e.app, e.origin
		tr.scheduled.push(f)
	case outBadPassword:
		if e.kind == kindInteractive && tr.r.chance(0.5) {
			f := tr.newEvent(e.at+int64(tr.r.between(15, 120))*int64(time.Second), kindInteractive, outSuccessMFA, e.who)
			f.app, f.origin = e.app, e.origin
			tr.scheduled.push(f)
		}
	}
}

// lateDelay draws how long a late sign-in is held back: log-uniform from
// a minute (or a tenth of the maximum) to the maximum.
func lateDelay(r *rng, maxLate time.Duration) int64 {
	lo := min(float64(time.Minute), float64(maxLate)/10)
	return int64(lo * math.Exp(r.float()*math.Log(float64(maxLate)/lo)))
}
