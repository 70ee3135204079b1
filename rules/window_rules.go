package rules

import (
	"fmt"

	"github.com/signindiag/signindiag/schemas"
)

// excessiveFailures raises one finding when a user's 48-hour failure count
// reaches the threshold: on the failure that crosses it, not on every
// failure after, so the id (scenario + crossing sign-in) is stable.
type excessiveFailures struct{ threshold int }

func (excessiveFailures) Scenario() string { return ScenarioExcessiveFailures48h }

func (r excessiveFailures) Evaluate(in Input) (schemas.Finding, bool) {
	if r.threshold <= 0 || !in.IsFailure || in.FailuresBefore >= r.threshold || in.Failures48h < r.threshold {
		return schemas.Finding{}, false
	}
	si := in.SignIn
	hours := int(in.Window.Hours())
	summary := fmt.Sprintf("%s reached %s in the last %d hours (threshold %d); the latest, to %s%s, failed with error %d.",
		who(si), plural(in.Failures48h, "failed sign-in", "failed sign-ins"), hours, r.threshold, app(si), from(si), si.Status.ErrorCode)
	recs := []string{
		fmt.Sprintf("Review %s's failed sign-ins of the last %d hours: which apps, IP addresses, devices and client apps they came from.", who(si), hours),
		"Failures from one app or device at a steady cadence usually mean a stored old password: update it on that client.",
		"Failures from unfamiliar IP addresses or countries suggest password guessing: require MFA, block the sources with Conditional Access, and consider resetting the password.",
		"Smart lockout locks the account after repeated failures; the user can unlock it with self-service password reset.",
	}
	f := newFinding(in, ScenarioExcessiveFailures48h, schemas.SeverityHigh,
		fmt.Sprintf("Many failed sign-ins in %d hours", hours), summary, recs)
	return f, true
}
