package loadgen

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidation(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero config (all defaults) rejected: %v", err)
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("default config rejected: %v", err)
	}
	for name, c := range map[string]struct {
		mutate func(*Config)
		want   string
	}{
		"too few users":     {func(c *Config) { c.Users = 10 }, "users"},
		"negative count":    {func(c *Config) { c.Count = -1 }, "count"},
		"unknown shape":     {func(c *Config) { c.Shape = "csv" }, "shape"},
		"huge batch":        {func(c *Config) { c.RecordsPerBatch = 5000 }, "records per batch"},
		"duplicate rate 1":  {func(c *Config) { c.DuplicateRate = 1 }, "duplicate rate"},
		"negative late":     {func(c *Config) { c.LateFraction = -0.1 }, "late fraction"},
		"flag rate NaN":     {func(c *Config) { c.FlagRate = nan() }, "flag rate"},
		"negative span":     {func(c *Config) { c.Span = -time.Hour }, "span"},
		"attacks too close": {func(c *Config) { c.BurstEvery = time.Minute }, "burst"},
	} {
		cfg := DefaultConfig()
		c.mutate(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one naming %q", name, err, c.want)
		}
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted the config", name)
		}
	}
	g, err := New(Config{Seed: 7, Count: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Config(); got.Users != DefaultConfig().Users || got.Shape != ShapeMixed || got.Span != 24*time.Hour {
		t.Errorf("defaults not filled: %+v", got)
	}
}

func TestParseShape(t *testing.T) {
	for _, s := range []string{"graph", "eventhubs", "mixed"} {
		if sh, err := ParseShape(s); err != nil || string(sh) != s {
			t.Errorf("ParseShape(%q) = %q, %v", s, sh, err)
		}
	}
	if _, err := ParseShape("Graph"); err == nil {
		t.Error("ParseShape accepted a wrong casing")
	}
}

func nan() float64 { var z float64; return z / z }
