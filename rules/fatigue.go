package rules

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/signindiag/signindiag/schemas"
)

// ScenarioMFAFatigue: repeated MFA denials or unanswered prompts for one
// user.
const ScenarioMFAFatigue = "mfa_fatigue"

// FatigueConfig tunes mfa_fatigue. The defaults come from Splunk's
// "Azure AD Multiple Denied MFA Requests For User" (S8 in
// docs/detection-rules.md#mfa-fatigue: more than 9 denials, 10-minute window) and
// "Multiple Failed MFA Requests For User" (S9: more than 10 other 500121
// failures).
// The env tags name the variables that set it, below the prefix the
// binary nests it under (MFA_FATIGUE_).
type FatigueConfig struct {
	Window    time.Duration `env:"WINDOW, default=10m"`
	Threshold int           `env:"THRESHOLD, default=10"`
}

// Validate reports each setting out of range, named by its variable.
func (c FatigueConfig) Validate() error {
	var errs []error
	if c.Window <= 0 {
		errs = append(errs, fmt.Errorf("WINDOW: expected a positive duration, got %s", c.Window))
	}
	if c.Threshold < 2 {
		errs = append(errs, fmt.Errorf("THRESHOLD: expected a whole number of at least 2, got %d", c.Threshold))
	}
	return errors.Join(errs...)
}

// DefaultFatigueConfig is S8's: 10 or more in 10 minutes.
func DefaultFatigueConfig() FatigueConfig {
	return FatigueConfig{Window: 10 * time.Minute, Threshold: 10}
}

// mfaPromptFailed is error 500121: the MFA prompt was denied, timed out or
// reported as fraud (additionalDetails says which).
const mfaPromptFailed = 500121

func init() {
	def := DefaultFatigueConfig()
	register(ScenarioMFAFatigue, Tuning{Window: def.Window, Threshold: def.Threshold}, func(Tuning) Detection {
		return Detection{
			Key:           KeyUser,
			Qualifies:     func(c Candidate) bool { return c.ErrorCode == mfaPromptFailed },
			EvidenceCodes: []int{mfaPromptFailed},
			Describe:      describeFatigue,
		}
	})
}

func describeFatigue(d *Detection, v IncidentView) Description {
	what, latest, source := "failed or unanswered MFA prompts", "", ""
	if si := v.Latest; si != nil {
		detail := strings.ToLower(si.Status.AdditionalDetails)
		if strings.Contains(detail, "denied") || strings.Contains(detail, "fraud") {
			what = "denied MFA prompts"
		}
		latest = fmt.Sprintf(" signing in to %s%s; the latest: %q", app(si), from(si), orUnknown(si.Status.AdditionalDetails))
		source = si.IPAddress
	}
	summary := fmt.Sprintf("%s had %d %s %s (threshold %d within %s)%s. Someone who knows the password may be pushing prompts until the user approves one.",
		subject(v), v.Count, what, span(v.First, v.Last), d.Threshold, windowWords(d.Window), latest)
	recs := []string{
		fmt.Sprintf("Contact %s out of band: if they did not start these sign-ins, their password is known to someone else; reset it and revoke their sessions.", subject(v)),
		"Check for a successful sign-in right after the prompts (an approved prompt): if there is one, treat the account as compromised.",
		"Turn on number matching and additional context in Microsoft Authenticator, or move the user to phishing-resistant methods (FIDO2, Windows Hello), so a blind approval is impossible.",
		fmt.Sprintf("Block the source (IP %s) with Conditional Access if it is not the user's.", orUnknown(source)),
	}
	return Description{Severity: schemas.SeverityHigh, Title: "Repeated MFA prompts (MFA fatigue)", Summary: summary, Recommendations: recs}
}
