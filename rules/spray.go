package rules

import (
	"fmt"
	"time"

	"github.com/signindiag/signindiag/schemas"
)

// ScenarioPasswordSpray: one source IP, many distinct users failing.
const ScenarioPasswordSpray = "password_spray"

// SprayConfig tunes password_spray. The defaults come from Microsoft
// Sentinel's "Password spray attack against Microsoft Entra ID
// application" (SigninPasswordSpray.yaml, docs/detection-rules.md M1): failures
// 50053, 50126 and 50055, binned in 20 minutes, at least 5 distinct users
// from one IP.
type SprayConfig struct {
	Window    time.Duration
	Threshold int
	Codes     []int
}

// DefaultSprayConfig is M1's.
func DefaultSprayConfig() SprayConfig {
	return SprayConfig{Window: 20 * time.Minute, Threshold: 5, Codes: []int{50053, 50126, 50055}}
}

// SprayInput is a failed sign-in seen by the per-IP window.
type SprayInput struct {
	SignIn *schemas.SignIn
	// Users and UsersBefore count the distinct users failing from the
	// sign-in's IP in (t-window, t], with and without this sign-in.
	Users, UsersBefore int
}

// SprayRule raises password_spray once per crossing: on the failure that
// brings the IP's distinct failing users to the threshold.
type SprayRule struct{ cfg SprayConfig }

// NewSprayRule builds the rule.
func NewSprayRule(cfg SprayConfig) *SprayRule { return &SprayRule{cfg: cfg} }

// Candidate reports whether a sign-in feeds the per-IP windows: a user's
// sign-in from a known IP that failed with one of the spray codes.
func (r *SprayRule) Candidate(si *schemas.SignIn) bool {
	if si.IPAddress == "" || si.UserID == "" && si.UserPrincipalName == "" {
		return false
	}
	for _, c := range r.cfg.Codes {
		if si.Status.ErrorCode == c {
			return true
		}
	}
	return false
}

// Evaluate returns the finding of a crossing.
func (r *SprayRule) Evaluate(in SprayInput) (schemas.Finding, bool) {
	if r.cfg.Threshold <= 0 || in.UsersBefore >= r.cfg.Threshold || in.Users < r.cfg.Threshold {
		return schemas.Finding{}, false
	}
	si := in.SignIn
	minutes := int(r.cfg.Window.Minutes())
	summary := fmt.Sprintf("%d distinct users failed to sign in from IP %s within %d minutes (threshold %d), the pattern of a password spray; the latest is %s signing in to %s (error %d).",
		in.Users, si.IPAddress, minutes, r.cfg.Threshold, who(si), app(si), si.Status.ErrorCode)
	if loc := from(si); loc != "" {
		summary += " Source:" + loc[len(" from"):] + "."
	}
	recs := []string{
		fmt.Sprintf("Block IP %s with a Conditional Access named location (or at the network edge) while you investigate.", si.IPAddress),
		fmt.Sprintf("Check whether any user then signed in successfully from %s: a success after a spray means a guessed password; reset those passwords and revoke their sessions.", si.IPAddress),
		"Require MFA for every user (Conditional Access or security defaults) and block legacy authentication, which sprays favour.",
		"Enable Microsoft Entra Password Protection with a custom banned-password list, and review smart lockout settings.",
	}
	f := newFinding(Input{SignIn: si}, ScenarioPasswordSpray, schemas.SeverityHigh,
		fmt.Sprintf("Password spray from %s", si.IPAddress), summary, recs)
	f.Failures48h = 0 // a per-IP finding: the user's own count is not its evidence
	return f, true
}
