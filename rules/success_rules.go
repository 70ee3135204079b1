package rules

import (
	"fmt"
	"strings"

	"github.com/signindiag/signindiag/schemas"
)

// successfulSignIn (docs/scenarios.md row 8): a success is diagnosed only when it
// is informative, never a plain one (most sign-ins are successes, and
// findings must stay rare). It is raised when the success "was expected to
// be interrupted by Conditional Access or MFA but was not":
//
//   - risk: the sign-in succeeded at a risk level ≥ Config.RiskySuccessLevel
//     (default high) that nobody remediated or dismissed, or while the
//     user's risk is atRisk/confirmedCompromised with a password-only
//     sign-in (Panther P4/P6, Elastic E5/E6, Sigma G5);
//   - report-only: on a single-factor sign-in that no policy applied to
//     (conditionalAccessStatus notApplied), a report-only policy would have
//     blocked it or required more (reportOnlyFailure, reportOnlyInterrupted);
//   - exclusion: single-factor, conditionalAccessStatus notApplied, and a
//     policy that requires MFA or blocks was evaluated but not applied
//     because this user, app, platform or client fell under one of its
//     exclusions (excludeRulesSatisfied). Location exclusions (trusted
//     networks) are by design and are not reported;
//   - ROPC: a password-only ROPC sign-in from a modern client (legacy
//     clients are legacy_authentication), which no MFA policy can challenge
//     (Panther P7, Elastic E9);
//   - flagged: the user flagged a sign-in that succeeded: the diagnostic
//     answers every flagged sign-in, so it says what happened.
type successfulSignIn struct{ env }

func (successfulSignIn) Scenario() string { return ScenarioSuccessfulSignIn }

func (r successfulSignIn) Evaluate(in Input) (schemas.Finding, bool) {
	si := in.SignIn
	if si.Status.ErrorCode != 0 {
		return schemas.Finding{}, false
	}
	var reasons, recs []string
	var mattered []schemas.AppliedPolicy
	severity := ""
	raise := func(s string) {
		if rank(s) > rank(severity) {
			severity = s
		}
	}

	// Risk that no policy acted on. A user's aggregated risk rides on every
	// token refresh of theirs: non-interactive sign-ins count only for the
	// risk of the sign-in itself, or the user would get a finding per refresh.
	risk := signInRiskRank(si)
	riskyUser := riskOpen(si) && (singleFactor(si) || risk >= 2)
	if !si.IsInteractive {
		risk = riskRank(si.RiskLevelDuringSignIn)
		riskyUser = false
	}
	if !riskClosed(si) && (risk >= riskRank(r.cfg.RiskySuccessLevel) || riskyUser) {
		reasons = append(reasons, fmt.Sprintf("it succeeded although Identity Protection recorded %s, and no risk policy blocked it or required MFA", riskPhrase(si)))
		recs = append(recs,
			fmt.Sprintf("Review this sign-in in Identity Protection > Risky sign-ins: if it was not %s, confirm it compromised, reset the password and revoke sessions; if it was, confirm it safe.", who(si)),
			"Configure risk-based Conditional Access: require MFA for medium and high sign-in risk, and a secure password change for high user risk (see \"Configure and enable risk policies\").")
		if eq(si.RiskState, "confirmedCompromised") || risk >= 3 {
			raise(schemas.SeverityHigh)
		} else {
			raise(schemas.SeverityMedium)
		}
	}

	// Report-only policies that would have acted on a sign-in that nothing
	// else protected (single factor, no policy applied): a tenant piloting a
	// policy sees what it would change where it matters, not on every
	// sign-in the enforced policies already cover.
	unprotected := singleFactor(si) && eq(si.ConditionalAccessStatus, "notApplied")
	for _, p := range si.AppliedConditionalAccessPolicies {
		if !unprotected {
			break
		}
		switch {
		case eq(p.Result, "reportOnlyFailure"):
			reasons = append(reasons, fmt.Sprintf("the report-only policy %q would have failed it (it %s)", policyName(p), grantPhrase(p)))
			recs = append(recs, fmt.Sprintf("Before turning %q on, check that %s should not reach %s under these conditions; enabling it would have stopped this sign-in.", policyName(p), who(si), app(si)))
			mattered = append(mattered, p)
			raise(schemas.SeverityLow)
		case eq(p.Result, "reportOnlyInterrupted"):
			reasons = append(reasons, fmt.Sprintf("the report-only policy %q would have interrupted it (it %s)", policyName(p), grantPhrase(p)))
			recs = append(recs, fmt.Sprintf("%q is in report-only mode: %s signed in with a single factor where the policy would have required more. Turn it on once its impact is understood.", policyName(p), who(si)))
			mattered = append(mattered, p)
			raise(schemas.SeverityLow)
		}
	}

	// Policies that would have required MFA or blocked, not applied because
	// of an exclusion.
	if unprotected {
		for _, p := range si.AppliedConditionalAccessPolicies {
			if !eqAny(p.Result, "notApplied", "reportOnlyNotApplied") || !(requiresMFA(p) || isBlockPolicy(p)) {
				continue
			}
			var excluded []string
			for _, x := range p.ExcludeRulesSatisfied {
				if eq(x.ConditionalAccessCondition, "location") || x.ConditionalAccessCondition == "" {
					continue
				}
				excluded = append(excluded, x.ConditionalAccessCondition+" "+orUnknown(x.RuleSatisfied))
			}
			if len(excluded) == 0 {
				continue
			}
			reasons = append(reasons, fmt.Sprintf("policy %q, which %s, was evaluated but not applied because the sign-in matched its exclusion (%s)", policyName(p), grantPhrase(p), strings.Join(excluded, ", ")))
			recs = append(recs, fmt.Sprintf("Compare %q's exclusions with its intended scope: if %s or %s should not be excluded, fix the exclusion (excluded accounts should be few, e.g. emergency access accounts, and monitored).", policyName(p), who(si), app(si)))
			mattered = append(mattered, p)
			raise(schemas.SeverityLow)
		}
	}

	// Password-only ROPC from a modern client.
	if isROPC(si) && singleFactor(si) && !isLegacyClient(si) && basicAuthUserAgent(si) == "" {
		reasons = append(reasons, "it used the resource owner password credentials (ROPC) flow, which sends the password directly and cannot be challenged for MFA")
		recs = append(recs, fmt.Sprintf("Find out what runs ROPC as %s (%s, user agent %s) and move it to an interactive or device-code flow, or to a workload identity if it is unattended; block ROPC for users with Conditional Access (authentication flows) where possible.",
			who(si), app(si), orUnknown(si.UserAgent)))
		raise(schemas.SeverityMedium)
	}

	if len(reasons) == 0 {
		if !si.FlaggedForReview {
			return schemas.Finding{}, false
		}
		reasons = append(reasons, fmt.Sprintf("%s flagged it for review although it succeeded", who(si)))
		recs = append(recs, fmt.Sprintf("Ask %s what went wrong: the sign-in itself succeeded (%s), so the problem may be in %s after sign-in, or in another attempt with correlation id %s.",
			who(si), authSummary(si), app(si), orUnknown(si.CorrelationID)))
		raise(schemas.SeverityInfo)
	}
	summary := fmt.Sprintf("%s signed in successfully to %s%s (%s), but %s.", who(si), appAndResource(si), from(si), authSummary(si), joinAnd(reasons))
	if si.FlaggedForReview && len(reasons) > 0 && !strings.Contains(reasons[len(reasons)-1], "flagged") {
		summary += fmt.Sprintf(" %s flagged this sign-in for review.", who(si))
	}
	f := newFinding(in, ScenarioSuccessfulSignIn, severity, "Successful sign-in that policies did not interrupt", summary, recs)
	if strings.Contains(reasons[0], "flagged it") {
		f.Title = "Flagged sign-in that succeeded"
	}
	f.Policies = summaries(mattered)
	return f, true
}

func rank(severity string) int {
	switch severity {
	case schemas.SeverityInfo:
		return 1
	case schemas.SeverityLow:
		return 2
	case schemas.SeverityMedium:
		return 3
	case schemas.SeverityHigh:
		return 4
	}
	return 0
}

// authSummary says what the user supplied: "single-factor, Password;
// Conditional Access notApplied".
func authSummary(si *schemas.SignIn) string {
	var parts []string
	switch {
	case eq(si.AuthenticationRequirement, "multiFactorAuthentication"):
		parts = append(parts, "multifactor")
	case eq(si.AuthenticationRequirement, "singleFactorAuthentication"):
		parts = append(parts, "single-factor")
	}
	var methods []string
	for _, d := range si.AuthenticationDetails {
		if d.AuthenticationMethod != "" && d.Succeeded && !containsString(methods, d.AuthenticationMethod) {
			methods = append(methods, d.AuthenticationMethod)
		}
	}
	if len(methods) > 0 {
		parts = append(parts, "methods "+strings.Join(methods, ", "))
	}
	if si.ConditionalAccessStatus != "" {
		parts = append(parts, "Conditional Access "+si.ConditionalAccessStatus)
	}
	if len(parts) == 0 {
		return "no authentication details recorded"
	}
	return strings.Join(parts, ", ")
}
