package rules

import (
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
type FatigueConfig struct {
	Window    time.Duration
	Threshold int
}

// DefaultFatigueConfig is S8's: 10 or more in 10 minutes.
func DefaultFatigueConfig() FatigueConfig {
	return FatigueConfig{Window: 10 * time.Minute, Threshold: 10}
}

// FatigueInput is an MFA failure seen by the per-user prompt window.
type FatigueInput struct {
	SignIn *schemas.SignIn
	// Prompts and PromptsBefore count the user's failed MFA prompts in
	// (t-window, t], with and without this one.
	Prompts, PromptsBefore int
	Failures48h            int
}

// FatigueRule raises mfa_fatigue once per crossing.
type FatigueRule struct{ cfg FatigueConfig }

// NewFatigueRule builds the rule.
func NewFatigueRule(cfg FatigueConfig) *FatigueRule { return &FatigueRule{cfg: cfg} }

// Candidate reports whether a sign-in is a failed MFA prompt: error
// 500121 (denied, timed out, fraud reported; additionalDetails says which).
func (r *FatigueRule) Candidate(si *schemas.SignIn) bool { return r.PromptFailed(si.Status.ErrorCode) }

// PromptFailed is Candidate for a stored error code (window rebuilds).
func (r *FatigueRule) PromptFailed(code int) bool { return code == 500121 }

// Evaluate returns the finding of a crossing.
func (r *FatigueRule) Evaluate(in FatigueInput) (schemas.Finding, bool) {
	if r.cfg.Threshold <= 0 || in.PromptsBefore >= r.cfg.Threshold || in.Prompts < r.cfg.Threshold {
		return schemas.Finding{}, false
	}
	si := in.SignIn
	detail := si.Status.AdditionalDetails
	denied := strings.Contains(strings.ToLower(detail), "denied") || strings.Contains(strings.ToLower(detail), "fraud")
	what := "failed or unanswered MFA prompts"
	if denied {
		what = "denied MFA prompts"
	}
	summary := fmt.Sprintf("%s had %d %s within %d minutes (threshold %d) signing in to %s%s; the latest: %q. Someone who knows the password may be pushing prompts until the user approves one.",
		who(si), in.Prompts, what, int(r.cfg.Window.Minutes()), r.cfg.Threshold, app(si), from(si), orUnknown(detail))
	recs := []string{
		fmt.Sprintf("Contact %s out of band: if they did not start these sign-ins, their password is known to someone else; reset it and revoke their sessions.", who(si)),
		"Check for a successful sign-in right after the prompts (an approved prompt): if there is one, treat the account as compromised.",
		"Turn on number matching and additional context in Microsoft Authenticator, or move the user to phishing-resistant methods (FIDO2, Windows Hello), so a blind approval is impossible.",
		fmt.Sprintf("Block the source (IP %s) with Conditional Access if it is not the user's.", orUnknown(si.IPAddress)),
	}
	in2 := Input{SignIn: si, Failures48h: in.Failures48h}
	return newFinding(in2, ScenarioMFAFatigue, schemas.SeverityHigh, "Repeated MFA prompts (MFA fatigue)", summary, recs), true
}
