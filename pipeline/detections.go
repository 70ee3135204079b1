package pipeline

import "github.com/signindiag/signindiag/rules"

// Detections returns the windowed detections the stages run, tuned by the
// configuration (zero values keep each detection's defaults).
func (c Config) Detections() []rules.Detection {
	return rules.Detections(rules.DetectionsConfig{
		rules.ScenarioExcessiveFailures48h: {Window: c.Window, Threshold: c.FailureThreshold},
		rules.ScenarioMFAFatigue:           {Window: c.Fatigue.Window, Threshold: c.Fatigue.Threshold},
		rules.ScenarioPasswordSpray:        {Window: c.Spray.Window, Threshold: c.Spray.Threshold, Codes: c.Spray.Codes},
	})
}
