package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/signindiag/signindiag/spikes"
)

func TestSpikesConfig(t *testing.T) {
	cfg, err := loadConfig(context.Background(), envconfig.MapLookuper(map[string]string{}), false)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Spikes.Rule().WithDefaults() != spikes.DefaultConfig() || !cfg.Spikes.Detect || cfg.Spikes.Every != time.Minute || cfg.Spikes.Step != 5*time.Minute {
		t.Errorf("defaults %+v, rule %+v; want spikes.DefaultConfig", cfg.Spikes, cfg.Spikes.Rule())
	}
	cfg, err = loadConfig(context.Background(), envconfig.MapLookuper(map[string]string{
		"SIGNINDIAG_SPIKES_MIN_COUNT": "25", "SIGNINDIAG_SPIKES_WEEKS": "2", "SIGNINDIAG_SPIKES_DETECT": "false"}), false)
	if err != nil {
		t.Fatal(err)
	}
	if r := cfg.Spikes.Rule(); r.MinCount != 25 || r.Weeks != 2 || cfg.Spikes.Detect {
		t.Errorf("overrides: %+v", cfg.Spikes)
	}
	for env, value := range map[string]string{
		"SIGNINDIAG_SPIKES_STEP": "10m", "SIGNINDIAG_SPIKES_WEEKS": "0", "SIGNINDIAG_SPIKES_MIN_SCORE": "0",
		"SIGNINDIAG_SPIKES_LEVEL_WEIGHT": "2", "SIGNINDIAG_SPIKES_LOOKBACK": "1m", "SIGNINDIAG_SPIKES_TOP": "51",
	} {
		_, err := loadConfig(context.Background(), envconfig.MapLookuper(map[string]string{env: value}), false)
		if err == nil || !strings.Contains(err.Error(), env+":") {
			t.Errorf("%s=%s: %v, want an error naming it", env, value, err)
		}
	}
}
