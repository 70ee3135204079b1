package main

import "github.com/signindiag/signindiag/rules"

// detections are the windowed detections as configured: the API shows the
// same ones the pipeline raises.
func detections(cfg *Config) []rules.Detection {
	return rules.Detections(rules.DetectionsConfig{
		rules.ScenarioExcessiveFailures48h: {Window: cfg.Window, Threshold: cfg.FailureThreshold},
		rules.ScenarioMFAFatigue:           {Window: cfg.MFAFatigue.Window, Threshold: cfg.MFAFatigue.Threshold},
		rules.ScenarioPasswordSpray:        {Window: cfg.Spray.Window, Threshold: cfg.Spray.Threshold, Codes: cfg.Spray.Codes},
	})
}
