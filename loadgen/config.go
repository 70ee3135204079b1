package loadgen

import (
	"errors"
	"fmt"
	"time"
)

// Shape is the wire shape of the sign-in messages.
type Shape string

const (
	// ShapeGraph: one Microsoft Graph signIn object per message.
	ShapeGraph Shape = "graph"
	// ShapeEventHubs: Azure Monitor envelopes {"records":[…]} of
	// RecordsPerBatch records, as diagnostic settings stream to Event Hubs.
	ShapeEventHubs Shape = "eventhubs"
	// ShapeMixed: each message is either, half and half.
	ShapeMixed Shape = "mixed"
)

// ParseShape reads a Shape from its name.
func ParseShape(s string) (Shape, error) {
	switch sh := Shape(s); sh {
	case ShapeGraph, ShapeEventHubs, ShapeMixed:
		return sh, nil
	}
	return "", fmt.Errorf("shape %q: want graph, eventhubs or mixed", s)
}

// Config describes the tenant and the stream. Zero sizes (Start, Span,
// Users, Apps, Shape, RecordsPerBatch, BurstEvery, MaxLateness) take the
// defaults of DefaultConfig; zero rates mean "never", so start from
// DefaultConfig for a realistic mix of delivery faults.
type Config struct {
	// Seed picks everything: the same Config gives the same bytes.
	Seed int64
	// Start and Span are the event-time range Count sign-ins fill.
	Start time.Time
	Span  time.Duration
	// Count is the number of sign-ins the stream holds; 0 makes it
	// endless, DefaultEndlessCount sign-ins per Span.
	Count int
	// Users and Apps size the tenant (a few users are much busier than
	// the rest, as in a real one).
	Users int
	Apps  int
	Shape Shape
	// RecordsPerBatch is the size of an Event Hubs envelope.
	RecordsPerBatch int
	// DuplicateRate is the fraction of messages sent a second time a few
	// messages later (a producer retry after a lost acknowledgement).
	DuplicateRate float64
	// LateFraction of the sign-ins are delivered after sign-ins up to
	// MaxLateness younger (delays spread log-uniformly from a minute).
	LateFraction float64
	MaxLateness  time.Duration
	// FlagRate is the fraction of user sign-ins someone flags for review
	// (a message on the flag topic, right after the sign-in's).
	FlagRate float64
	// BurstEvery is the event time between two attacks: each period
	// starts with a password spray (at +5 minutes) and an MFA-fatigue
	// burst (at +25 minutes). Negative: no attacks.
	BurstEvery time.Duration
}

// DefaultEndlessCount is the density of an endless stream: sign-ins per Span.
const DefaultEndlessCount = 1_000_000

// DefaultConfig is a mid-sized tenant's day, with the delivery faults of a
// real Event Hubs feed.
func DefaultConfig() Config {
	return Config{
		Seed:            1,
		Start:           time.Date(2025, 3, 4, 0, 0, 0, 0, time.UTC),
		Span:            24 * time.Hour,
		Users:           5000,
		Apps:            20,
		Shape:           ShapeMixed,
		RecordsPerBatch: 100,
		DuplicateRate:   0.005,
		LateFraction:    0.01,
		MaxLateness:     2 * time.Hour,
		FlagRate:        0.0005,
		BurstEvery:      time.Hour,
	}
}

// withDefaults fills the zero sizes.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Start.IsZero() {
		c.Start = d.Start
	}
	if c.Span == 0 {
		c.Span = d.Span
	}
	if c.Users == 0 {
		c.Users = d.Users
	}
	if c.Apps == 0 {
		c.Apps = d.Apps
	}
	if c.Shape == "" {
		c.Shape = d.Shape
	}
	if c.RecordsPerBatch == 0 {
		c.RecordsPerBatch = d.RecordsPerBatch
	}
	if c.MaxLateness == 0 {
		c.MaxLateness = d.MaxLateness
	}
	if c.BurstEvery == 0 {
		c.BurstEvery = d.BurstEvery
	}
	return c
}

// minUsers: a spray needs its 25+ distinct victims, and the fatigue burst
// a user of its own.
const minUsers = 40

// Validate reports every value out of range, after defaults.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Span < 0 {
		bad("span %v: must be positive", c.Span)
	}
	if c.Count < 0 {
		bad("count %d: must not be negative", c.Count)
	}
	if c.Users < minUsers || c.Users > 10_000_000 {
		bad("users %d: want %d to 10 000 000", c.Users, minUsers)
	}
	if c.Apps < 1 || c.Apps > 10_000 {
		bad("apps %d: want 1 to 10 000", c.Apps)
	}
	if _, err := ParseShape(string(c.Shape)); err != nil {
		errs = append(errs, err)
	}
	if c.RecordsPerBatch < 1 || c.RecordsPerBatch > 1000 {
		bad("records per batch %d: want 1 to 1000", c.RecordsPerBatch)
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"duplicate rate", c.DuplicateRate}, {"late fraction", c.LateFraction}, {"flag rate", c.FlagRate}} {
		if !(r.v >= 0 && r.v < 1) {
			bad("%s %v: want 0 ≤ rate < 1", r.name, r.v)
		}
	}
	if c.MaxLateness < 0 {
		bad("max lateness %v: must be positive", c.MaxLateness)
	}
	if c.BurstEvery > 0 && c.BurstEvery < time.Hour/2 {
		bad("burst interval %v: want at least 30m (an attack lasts about 20 minutes)", c.BurstEvery)
	}
	return errors.Join(errs...)
}
