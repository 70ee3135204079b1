package loadgen

import "time"

// delivery reorders the event-time-ordered sign-ins as a real feed does:
// a fraction is held back and released once the stream has moved on by
// the sign-in's delay (Entra's logs are eventually consistent, and
// non-interactive sign-ins are aggregated for minutes to hours).
type delivery struct {
	src         *traffic
	r           *rng
	late        float64
	maxLate     time.Duration
	held        eventHeap
	look        event
	lookReady   bool
	sourceEnded bool
}

func newDelivery(cfg Config, src *traffic) *delivery {
	return &delivery{src: src, r: newRNG(cfg.Seed, 3), late: cfg.LateFraction, maxLate: cfg.MaxLateness}
}

func (d *delivery) next() (event, bool) {
	for {
		if d.lookReady {
			if len(d.held) > 0 && d.held.peek().key <= d.look.at {
				return d.held.pop(), true
			}
			d.lookReady = false
			return d.look, true
		}
		if d.sourceEnded {
			if len(d.held) > 0 {
				return d.held.pop(), true
			}
			return event{}, false
		}
		e, ok := d.src.next()
		if !ok {
			d.sourceEnded = true
			continue
		}
		if d.r.chance(d.late) {
			e.key = e.at + lateDelay(d.r, d.maxLate)
			d.held.push(e)
			continue
		}
		d.look, d.lookReady = e, true
	}
}
