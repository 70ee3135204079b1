package loadgen

// kind is a sign-in's log category.
type kind uint8

const (
	kindInteractive kind = iota
	kindNonInteractive
	kindServicePrincipal
)

var categoryOf = [...]string{"SignInLogs", "NonInteractiveUserSignInLogs", "ServicePrincipalSignInLogs"}

// origin is where a user's sign-in came from.
type origin uint8

const (
	fromOffice origin = iota
	fromHome
	fromTravel
	fromSprayer // the period's password-spray address
	fromFatigue // the period's MFA-fatigue attacker
)

// event is one sign-in before rendering: small, so holding it back (late
// delivery, scheduled follow-ups) costs little.
type event struct {
	at      int64 // Unix nanoseconds
	key     int64 // heap order: at, or the release time of a late event
	seq     uint64
	salt    uint64 // draws made while rendering (token id, timings)
	id      guid
	corr    guid
	kind    kind
	outcome outcome
	origin  origin
	who     int32 // user, or service principal
	app     int16
	period  int32 // attack period, for attacker addresses
}

// eventHeap is a min-heap on (key, seq): seq makes equal keys pop in
// creation order, so the stream does not depend on heap internals.
type eventHeap []event

func (h eventHeap) less(i, j int) bool {
	return h[i].key < h[j].key || h[i].key == h[j].key && h[i].seq < h[j].seq
}

func (h *eventHeap) push(e event) {
	*h = append(*h, e)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *eventHeap) pop() event {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(s) && s.less(l, m) {
			m = l
		}
		if r < len(s) && s.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

func (h eventHeap) peek() *event { return &h[0] }
