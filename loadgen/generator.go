package loadgen

import (
	"fmt"
	"time"
)

// Topic says which topic a message belongs on.
type Topic uint8

const (
	// TopicSignIns carries Entra's sign-in messages.
	TopicSignIns Topic = iota
	// TopicFlags carries signindiag's flag events.
	TopicFlags
)

func (t Topic) String() string {
	if t == TopicFlags {
		return "flags"
	}
	return "signins"
}

// Message is one message to send. Value must not be modified: a
// duplicate shares it with the original.
type Message struct {
	Topic Topic
	Value []byte
	// SignInIDs are the request ids of the sign-ins in Value, in order
	// (unique over the stream; none for a flag).
	SignInIDs []string
	// Duplicate marks the second sending of an earlier message.
	Duplicate bool
}

// Stats counts what the generator has returned so far.
type Stats struct {
	Messages   int
	SignIns    int // first sendings only
	Flags      int
	Duplicates int // messages sent a second time
	Bytes      int64
}

// Generator produces the stream of one Config. Not safe for concurrent
// use; run one per goroutine (with different seeds) to go faster.
type Generator struct {
	cfg    Config
	enc    *encoder
	src    *delivery
	r      *rng
	queue  []Message // flags waiting behind their sign-in's message
	resend []pendingDuplicate
	built  int // sign-in messages built
	buf    []byte
	stats  Stats
	ended  bool
}

type pendingDuplicate struct {
	due int // sent once this many sign-in messages are built
	msg Message
}

// New validates cfg, fills its defaults and builds the tenant.
func New(cfg Config) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("loadgen config: %w", err)
	}
	cfg = cfg.withDefaults()
	t := newTenant(cfg)
	return &Generator{
		cfg: cfg, enc: newEncoder(t), src: newDelivery(cfg, newTraffic(cfg, t)), r: newRNG(cfg.Seed, 4),
		buf: make([]byte, 0, 64<<10),
	}, nil
}

// Config returns the configuration in use, defaults filled in.
func (g *Generator) Config() Config { return g.cfg }

// Stats returns the counts so far.
func (g *Generator) Stats() Stats { return g.stats }

// Next returns the next message, or false once a bounded stream (Count
// > 0) has delivered every sign-in, every flag and every duplicate.
func (g *Generator) Next() (Message, bool) {
	m, ok := g.next()
	if ok {
		g.stats.Messages++
		g.stats.Bytes += int64(len(m.Value))
		switch {
		case m.Duplicate:
			g.stats.Duplicates++
		case m.Topic == TopicFlags:
			g.stats.Flags++
		default:
			g.stats.SignIns += len(m.SignInIDs)
		}
	}
	return m, ok
}

func (g *Generator) next() (Message, bool) {
	for i, d := range g.resend {
		if d.due <= g.built || g.ended {
			g.resend = append(g.resend[:i], g.resend[i+1:]...)
			return d.msg, true
		}
	}
	if len(g.queue) > 0 {
		m := g.queue[0]
		g.queue = g.queue[1:]
		return m, true
	}
	if g.ended {
		return Message{}, false
	}
	m, ok := g.build()
	if !ok {
		g.ended = true
		return g.next()
	}
	g.built++
	if g.r.chance(g.cfg.DuplicateRate) {
		dup := m
		dup.Duplicate = true
		g.resend = append(g.resend, pendingDuplicate{due: g.built + g.r.between(1, 20), msg: dup})
	}
	return m, true
}

// build renders the next sign-in message and queues the flags of its
// sign-ins.
func (g *Generator) build() (Message, bool) {
	hubs := g.cfg.Shape == ShapeEventHubs
	if g.cfg.Shape == ShapeMixed {
		// Half the sign-ins in each shape: a batch holds many records.
		n := g.cfg.RecordsPerBatch
		hubs = g.r.intn(n+1) >= n
	}
	want := 1
	if hubs {
		want = g.cfg.RecordsPerBatch
	}
	b := g.buf[:0]
	if hubs {
		b = append(b, `{"records":[`...)
	}
	ids := make([]string, 0, want)
	for len(ids) < want {
		e, ok := g.src.next()
		if !ok {
			break
		}
		if len(ids) > 0 {
			b = append(b, ',')
		}
		b = g.enc.appendRecord(b, &e, hubs)
		ids = append(ids, e.id.String())
		if e.kind != kindServicePrincipal && g.r.chance(g.cfg.FlagRate) {
			g.queue = append(g.queue, g.flag(&e))
		}
	}
	if len(ids) == 0 {
		return Message{}, false
	}
	if hubs {
		b = append(b, "]}"...)
	}
	g.buf = b
	return Message{Topic: TopicSignIns, Value: append([]byte(nil), b...), SignInIDs: ids}, true
}

// flag renders a review request for the sign-in, made a few minutes
// after it.
func (g *Generator) flag(e *event) Message {
	u := &g.enc.t.users[e.who]
	b := make([]byte, 0, 320)
	b = append(b, `{"signInId":"`...)
	b = append(b, e.id[:]...)
	b = append(b, `","correlationId":"`...)
	b = append(b, e.corr[:]...)
	b = append(b, `","userId":"`...)
	b = append(b, u.id[:]...)
	b = append(b, `","userPrincipalName":"`...)
	b = append(b, u.upn...)
	b = append(b, `","flaggedAt":"`...)
	b = appendTime(b, e.at+int64(g.r.between(60, 1800))*int64(time.Second))
	b = append(b, `","flaggedBy":"`...)
	b = append(b, flaggers[g.r.intn(len(flaggers))]...)
	b = append(b, `","reason":"`...)
	b = append(b, flagReasons[g.r.intn(len(flagReasons))]...)
	b = append(b, `"}`...)
	return Message{Topic: TopicFlags, Value: b}
}
