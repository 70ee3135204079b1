package rekey

import (
	"errors"
	"fmt"
	"time"
)

// ReasonTimeOutOfRange dead-letters a sign-in whose createdDateTime lies
// outside [now − MaxEventAge, now + MaxClockSkew]: a broken clock, a bad
// export or a unit mix-up, which would otherwise open windows far from
// every other event.
const ReasonTimeOutOfRange = "time_out_of_range"

// TimeBounds are the event times the stage accepts. The zero value
// accepts every time.
// The env tags name the variables that set it (below the binary's prefix).
type TimeBounds struct {
	// MaxEventAge: older sign-ins are dead-lettered; 0 means no bound.
	MaxEventAge time.Duration `env:"MAX_EVENT_AGE, default=2160h"`
	// MaxClockSkew: sign-ins further in the future are dead-lettered; 0
	// means no bound.
	MaxClockSkew time.Duration `env:"MAX_CLOCK_SKEW, default=15m"`
	// Now is the clock the bounds are taken from; nil means time.Now.
	Now func() time.Time
}

// Validate reports each bound out of range, named by its variable.
func (b TimeBounds) Validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{"MAX_EVENT_AGE", b.MaxEventAge}, {"MAX_CLOCK_SKEW", b.MaxClockSkew}} {
		if d.d < 0 {
			errs = append(errs, fmt.Errorf("%s: expected a duration of 0 (no bound) or more, got %s", d.name, d.d))
		}
	}
	return errors.Join(errs...)
}

// check returns why t is out of range, or nil.
func (b TimeBounds) check(t time.Time) error {
	if b.MaxEventAge <= 0 && b.MaxClockSkew <= 0 {
		return nil
	}
	now := time.Now
	if b.Now != nil {
		now = b.Now
	}
	n := now()
	if b.MaxEventAge > 0 && t.Before(n.Add(-b.MaxEventAge)) {
		return fmt.Errorf("createdDateTime %s is more than %s before now (%s)",
			t.UTC().Format(time.RFC3339), b.MaxEventAge, n.UTC().Format(time.RFC3339))
	}
	if b.MaxClockSkew > 0 && t.After(n.Add(b.MaxClockSkew)) {
		return fmt.Errorf("createdDateTime %s is more than %s after now (%s)",
			t.UTC().Format(time.RFC3339), b.MaxClockSkew, n.UTC().Format(time.RFC3339))
	}
	return nil
}
