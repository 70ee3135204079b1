package main

import (
	"fmt"
	"time"

	"github.com/signindiag/signindiag/pipeline/spikedetect"
	"github.com/signindiag/signindiag/spikes"
)

// SpikesConfig tunes failure spikes: the baseline and rule of /v1/spikes,
// `signindiag spikes` and the failure_spike detector, and the detector
// itself (SIGNINDIAG_SPIKES_*). The defaults are justified in
// spikes.Config and spikedetect.Config.
type SpikesConfig struct {
	// Detect runs the failure_spike detector in the ingest process.
	Detect bool `env:"DETECT, default=true"`
	// Every, Step, Lookback, Top and Gap: see spikedetect.Config.
	Every    time.Duration `env:"EVERY, default=1m"`
	Step     time.Duration `env:"STEP, default=5m"`
	Lookback time.Duration `env:"LOOKBACK, default=2h"`
	Top      int           `env:"TOP, default=10"`
	Gap      int           `env:"GAP, default=2"`
	// Weeks … MinSigma: see spikes.Config.
	Weeks       int           `env:"WEEKS, default=4"`
	LevelWindow time.Duration `env:"LEVEL_WINDOW, default=24h"`
	LevelWeight float64       `env:"LEVEL_WEIGHT, default=1"`
	SlotWidth   time.Duration `env:"SLOT_WIDTH, default=30m"`
	MinScore    float64       `env:"MIN_SCORE, default=3"`
	MinCount    int           `env:"MIN_COUNT, default=10"`
	MinExcess   float64       `env:"MIN_EXCESS, default=5"`
}

// Rule is the baseline and spike rule.
func (c SpikesConfig) Rule() spikes.Config {
	return spikes.Config{Weeks: c.Weeks, LevelWindow: c.LevelWindow, LevelWeight: c.LevelWeight, SlotWidth: c.SlotWidth,
		MinScore: c.MinScore, MinCount: c.MinCount, MinExcess: c.MinExcess}
}

// Detector is the detector's configuration.
func (c SpikesConfig) Detector() spikedetect.Config {
	return spikedetect.Config{Every: c.Every, Step: c.Step, Lookback: c.Lookback, Top: c.Top, Gap: c.Gap, Rule: c.Rule()}
}

// validate names the variable that is out of range.
func (c SpikesConfig) validate() []error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%sSPIKES_%s: %s", envPrefix, name, fmt.Sprintf(format, args...)))
	}
	if c.Every < time.Second {
		bad("EVERY", "expected a duration of at least 1s, got %s", c.Every)
	}
	switch c.Step {
	case 5 * time.Minute, 15 * time.Minute, time.Hour:
	default:
		bad("STEP", "expected 5m, 15m or 1h, got %s", c.Step)
	}
	if c.Lookback < c.Step || c.Lookback > 7*24*time.Hour {
		bad("LOOKBACK", "expected a duration from STEP to 168h, got %s", c.Lookback)
	}
	if c.Top < 1 || c.Top > 50 {
		bad("TOP", "expected 1 to 50, got %d", c.Top)
	}
	if c.Gap < 0 {
		bad("GAP", "expected 0 or more buckets, got %d", c.Gap)
	}
	if c.Weeks < 1 || c.Weeks > 12 {
		bad("WEEKS", "expected 1 to 12, got %d", c.Weeks)
	}
	if c.LevelWindow < time.Hour || c.LevelWindow > 7*24*time.Hour {
		bad("LEVEL_WINDOW", "expected 1h to 168h, got %s", c.LevelWindow)
	}
	if c.LevelWeight < 0 || c.LevelWeight > 1 {
		bad("LEVEL_WEIGHT", "expected 0 to 1, got %g", c.LevelWeight)
	}
	if c.SlotWidth < 0 || c.SlotWidth > 12*time.Hour {
		bad("SLOT_WIDTH", "expected 0 to 12h, got %s", c.SlotWidth)
	}
	if c.MinScore <= 0 {
		bad("MIN_SCORE", "expected a positive number, got %g", c.MinScore)
	}
	if c.MinCount < 1 {
		bad("MIN_COUNT", "expected at least 1, got %d", c.MinCount)
	}
	if c.MinExcess < 0 {
		bad("MIN_EXCESS", "expected 0 or more, got %g", c.MinExcess)
	}
	return errs
}
