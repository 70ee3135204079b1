// Package rules turns a sign-in, with its window counts, into findings: the
// scenario of the Entra Sign-in diagnostic, what happened, and what to do.
// Rules are pure functions of their Input, so the same input always yields
// the same findings with the same ids, which makes replays harmless.
//
// One sign-in gets at most one diagnosis from the sign-in rules, chosen by
// precedence (see NewEngine), plus whatever the windowed rules add.
package rules

import (
	"strings"
	"time"

	"github.com/signindiag/signindiag/rules/catalog"
	"github.com/signindiag/signindiag/schemas"
)

// Scenario ids: stable, shared with the API, the tables and the tests
// (docs/scenarios.md). The windowed detections password_spray and
// mfa_fatigue live elsewhere.
const (
	ScenarioBlockedByConditionalAccess    = "blocked_by_conditional_access"
	ScenarioFailedConditionalAccess       = "failed_conditional_access"
	ScenarioMFAFromConditionalAccess      = "mfa_from_conditional_access"
	ScenarioB2BBlockedByConditionalAccess = "b2b_blocked_by_conditional_access"
	ScenarioMFAFromOtherRequirements      = "mfa_from_other_requirements"
	ScenarioMFAProofUpRequired            = "mfa_proofup_required"
	ScenarioMFAProofUpRiskyLocation       = "mfa_proofup_risky_location"
	ScenarioSuccessfulSignIn              = "successful_signin"
	ScenarioAccountLocked                 = "account_locked"
	ScenarioInvalidCredentials            = "invalid_credentials" // #nosec G101 -- a scenario id, not a credential
	ScenarioAppServiceProvider            = "app_service_provider"
	ScenarioAppConfiguration              = "app_configuration"
	ScenarioSecurityDefaults              = "security_defaults"
	ScenarioErrorCodeInsight              = "error_code_insight"
	ScenarioLegacyAuthentication          = "legacy_authentication"
	ScenarioBlockedByRiskPolicy           = "blocked_by_risk_policy"
	ScenarioPassThroughAuthentication     = "pass_through_authentication"
	ScenarioSeamlessSSO                   = "seamless_sso"
	ScenarioExcessiveFailures48h          = "excessive_failures_48h"
	ScenarioMFADenied                     = "mfa_denied"
	// ScenarioFailureSpike is the incident of a failure spike
	// (pipeline/spikedetect), keyed by dimension and value.
	ScenarioFailureSpike = "failure_spike"
)

// Input is everything a rule may look at for one sign-in.
type Input struct {
	SignIn *schemas.SignIn
	// IsFailure is the catalogue's verdict: a real failure, not an
	// interrupt, a benign or a service error.
	IsFailure bool
	// Failures48h counts the user's failed sign-ins in (t-window, t],
	// this one included; FailuresBefore is the same count without it.
	Failures48h    int
	FailuresBefore int
	// CountsPartial is true when the window could no longer hold all of
	// (t-window, t] for this sign-in (it arrived later than the allowed
	// lateness), so the counts are a lower bound.
	CountsPartial bool
	Window        time.Duration
}

// Rule recognises one scenario.
type Rule interface {
	Scenario() string
	Evaluate(in Input) (schemas.Finding, bool)
}

// Config tunes the rules. Zero values take the defaults below, so a
// Config{FailureThreshold: n} written before these fields existed keeps
// working; FailureThreshold itself keeps its meaning (≤ 0 turns
// excessive_failures_48h off).
type Config struct {
	// FailureThreshold is the 48-hour failure count that raises
	// excessive_failures_48h (smart lockout's default threshold is 10).
	// The engine no longer reads it: the detection is a windowed
	// Detection (window_rules.go), tuned through DetectionsConfig.
	FailureThreshold int

	// RepeatedFailures is the 48-hour failure count from which a bad
	// password or a Conditional Access grant failure is "repeated": the
	// severity rises to medium and a non-browser client is suspected of
	// replaying a cached password. Default 5, from Sentinel's "Failed login
	// attempts to Azure Portal" (FailedLogonToAzurePortal.yaml, docs/detection-rules.md
	// M7: FailedLogonCount ≥ 5 from ≥ 2 IP addresses).
	RepeatedFailures int

	// ManyFailures is the 48-hour failure count from which a lockout or a
	// bad password is high severity. Default 10, from Panther's
	// Azure.Audit.ManyFailedSignIns (docs/detection-rules.md P1: 10 failed sign-ins
	// per principal), which is also smart lockout's default threshold.
	ManyFailures int

	// RiskySuccessLevel is the risk level (low, medium or high) from which a
	// successful sign-in whose risk was neither remediated nor dismissed is
	// reported as successful_signin ("should have been interrupted by a risk
	// policy"). Default "high", from Panther's Azure.Audit.HighRiskSignIn
	// (docs/detection-rules.md P4) and Elastic's "Entra ID High Risk Sign-in" (E5):
	// riskLevelDuringSignIn or riskLevelAggregated high, riskState not
	// dismissed/remediated.
	RiskySuccessLevel string
}

// Defaults, with their public sources (see Config).
const (
	DefaultRepeatedFailures  = 5      // Sentinel M7 FailedLogonToAzurePortal
	DefaultManyFailures      = 10     // Panther P1 Azure.Audit.ManyFailedSignIns
	DefaultRiskySuccessLevel = "high" // Panther P4 Azure.Audit.HighRiskSignIn, Elastic E5
)

// WithDefaults returns c with every unset threshold at its default.
func (c Config) WithDefaults() Config {
	if c.RepeatedFailures <= 0 {
		c.RepeatedFailures = DefaultRepeatedFailures
	}
	if c.ManyFailures <= 0 {
		c.ManyFailures = DefaultManyFailures
	}
	if riskRank(c.RiskySuccessLevel) == 0 {
		c.RiskySuccessLevel = DefaultRiskySuccessLevel
	}
	c.RiskySuccessLevel = strings.ToLower(c.RiskySuccessLevel)
	return c
}

// env is what the sign-in rules share: the thresholds and the catalogue.
type env struct {
	cfg Config
	cat *catalog.Catalog
}

// Engine applies the rules. Sign-in rules are tried in precedence order
// and the first match wins (one diagnosis per sign-in, as the portal
// shows). Windowed detections (Detections) are not the engine's.
type Engine struct {
	signInRules []Rule
}

// NewEngine builds the rule set over an error-code catalogue.
//
// Precedence (docs/scenarios.md#precedence, the backbone): risk block →
// CA block → CA grant failure → security defaults → legacy auth → MFA
// proof-up → MFA from CA / other → lockout → bad password → app config / SP
// → PTA / SSO → error-code insight → successful sign-in. Where this package
// places what that list leaves out, and why:
//
//   - legacy_authentication also comes right after the risk block for one
//     case: a 53003 whose failing policy matched on clientType (a "block
//     legacy authentication" policy). There the legacy client is the cause
//     of the block and its remedy (move the client to modern auth) is the
//     useful one; any other 53003 from a legacy client stays a CA block.
//   - b2b_blocked_by_conditional_access comes before the CA block and the CA
//     grant failure: it is the same failure seen from a user of another
//     organisation, and its remedy (cross-tenant access trust settings, the
//     policies that target external users, or the other tenant's admins)
//     differs. A risk block stays first even for a guest.
//   - mfa_proofup_risky_location comes before mfa_proofup_required: it is
//     the same registration step, refused (53010, 53004) or requested from a
//     risky context, which the user cannot fix by simply registering.
//   - mfa_denied comes after proof-up and before MFA from CA / other: a
//     500121 is the outcome of the MFA step (declined, unanswered, fraud
//     reported), which is what the admin must act on, whereas the MFA-from
//     scenarios explain why the step was asked. The record of a failed MFA
//     also carries the requirement provider, so matching it first keeps it
//     from being explained as a mere prompt.
func NewEngine(cfg Config, cat *catalog.Catalog) *Engine {
	e := env{cfg: cfg.WithDefaults(), cat: cat}
	return &Engine{
		signInRules: []Rule{
			blockedByRiskPolicy{e},
			legacyBlockedByConditionalAccess{e},
			b2bBlockedByConditionalAccess{e},
			blockedByConditionalAccess{e},
			failedConditionalAccess{e},
			securityDefaults{e},
			legacyAuthentication{e},
			mfaProofUpRiskyLocation{e},
			mfaProofUpRequired{e},
			mfaDenied{e},
			mfaFromConditionalAccess{e},
			mfaFromOtherRequirements{e},
			accountLocked{e},
			invalidCredentials{e},
			appServiceProvider{e},
			appConfiguration{e},
			passThroughAuthentication{e},
			seamlessSSO{e},
			errorCodeInsight{e},
			successfulSignIn{e},
		},
	}
}

// Scenarios lists the scenarios the engine can raise: the sign-in rules in
// precedence order (a scenario may appear twice when two rules share it).
// Windowed detections are not the engine's: see Detections.
func (e *Engine) Scenarios() []string {
	var out []string
	for _, r := range e.signInRules {
		out = append(out, r.Scenario())
	}
	return out
}

// Evaluate returns the findings of one sign-in, possibly none.
func (e *Engine) Evaluate(in Input) []schemas.Finding {
	var out []schemas.Finding
	if in.SignIn == nil {
		return nil
	}
	for _, r := range e.signInRules {
		if f, ok := r.Evaluate(in); ok {
			out = append(out, f)
			break
		}
	}
	return out
}

// newFinding fills the fields every finding shares. The id hashes the
// scenario and the sign-in's identity (category, id): one finding per
// scenario per sign-in.
func newFinding(in Input, scenario, severity, title, summary string, recs []string) schemas.Finding {
	si := in.SignIn
	f := schemas.Finding{
		ID:                 schemas.FindingID(scenario, si.Category, si.ID),
		SignInID:           si.ID,
		CorrelationID:      si.CorrelationID,
		UserID:             si.UserID,
		UserPrincipalName:  si.UserPrincipalName,
		AppID:              si.AppID,
		AppDisplayName:     si.AppDisplayName,
		OccurredAt:         si.CreatedDateTime,
		Scenario:           scenario,
		Severity:           severity,
		Title:              title,
		Summary:            summary,
		Recommendations:    recs,
		ErrorCode:          si.Status.ErrorCode,
		Failures48h:        in.Failures48h,
		Failures48hPartial: in.CountsPartial,
		Flagged:            si.FlaggedForReview,
		UserKey:            si.UserKey(),
	}
	if si.Status.ErrorCode != 0 {
		f.ErrorCodeURL = catalog.ErrorPage(si.Status.ErrorCode)
	}
	return f
}
