package main

import "github.com/signindiag/signindiag/rules"

// detections are the windowed detections as configured: the API shows the
// same ones the pipeline raises.
func detections(cfg *Config) []rules.Detection {
	return rules.Detections(rules.DetectionsConfig{
		rules.ScenarioExcessiveFailures48h: {Window: cfg.Window, Threshold: cfg.FailureThreshold},
		rules.ScenarioMFAFatigue:           {Window: cfg.MFAFatigueWindow, Threshold: cfg.MFAFatigueThreshold},
		rules.ScenarioPasswordSpray:        {Window: cfg.SprayWindow, Threshold: cfg.SprayThreshold, Codes: cfg.SprayCodes},
	})
}
