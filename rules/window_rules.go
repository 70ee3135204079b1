package rules

import (
	"fmt"
	"time"

	"github.com/signindiag/signindiag/schemas"
)

// DefaultFailureThreshold is smart lockout's default lockout threshold
// (docs/detection-rules.md#excessive-failures-48h).
const DefaultFailureThreshold = 10

// excessive_failures_48h: a user's failed sign-ins (catalogue kind F) in
// 48 hours reach the threshold.
func init() {
	register(ScenarioExcessiveFailures48h, Tuning{Window: 48 * time.Hour, Threshold: DefaultFailureThreshold}, func(Tuning) Detection {
		return Detection{
			Key:       KeyUser,
			Qualifies: func(c Candidate) bool { return c.IsFailure },
			Describe:  describeExcessiveFailures,
		}
	})
}

func describeExcessiveFailures(d *Detection, v IncidentView) Description {
	window := windowWords(d.Window)
	latest := ""
	if si := v.Latest; si != nil {
		latest = fmt.Sprintf("; the latest, to %s%s, failed with error %d", app(si), from(si), si.Status.ErrorCode)
	}
	summary := fmt.Sprintf("%s had %s %s, at least %d within %s%s.",
		subject(v), plural(v.Count, "failed sign-in", "failed sign-ins"), span(v.First, v.Last), d.Threshold, window, latest)
	recs := []string{
		fmt.Sprintf("Review %s's failed sign-ins of the incident: which apps, IP addresses, devices and client apps they came from.", subject(v)),
		"Failures from one app or device at a steady cadence usually mean a stored old password: update it on that client.",
		"Failures from unfamiliar IP addresses or countries suggest password guessing: require MFA, block the sources with Conditional Access, and consider resetting the password.",
		"Smart lockout locks the account after repeated failures; the user can unlock it with self-service password reset.",
	}
	return Description{Severity: schemas.SeverityHigh, Title: fmt.Sprintf("Many failed sign-ins in %s", window), Summary: summary, Recommendations: recs}
}
