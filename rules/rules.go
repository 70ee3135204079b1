// Package rules turns a sign-in, with its window counts, into findings: the
// scenario of the Entra Sign-in diagnostic, what happened, and what to do.
// Rules are pure functions of their Input, so the same input always yields
// the same findings with the same ids, which makes replays harmless.
package rules

import (
	"time"

	"github.com/signindiag/signindiag/rules/catalog"
	"github.com/signindiag/signindiag/schemas"
)

// Scenario ids: stable, shared with the API, the tables and the tests.
const (
	ScenarioBlockedByConditionalAccess = "blocked_by_conditional_access"
	ScenarioInvalidCredentials         = "invalid_credentials"
	ScenarioAccountLocked              = "account_locked"
	ScenarioErrorCodeInsight           = "error_code_insight"
	ScenarioExcessiveFailures48h       = "excessive_failures_48h"
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
	Window         time.Duration
}

// Rule recognises one scenario.
type Rule interface {
	Scenario() string
	Evaluate(in Input) (schemas.Finding, bool)
}

// Config tunes the rules.
type Config struct {
	// FailureThreshold is the 48-hour failure count that raises
	// excessive_failures_48h (smart lockout's default threshold is 10).
	FailureThreshold int
}

// Engine applies the rules. Sign-in rules are tried in precedence order
// and the first match wins (one diagnosis per sign-in, as the portal
// shows); windowed rules add their findings independently.
type Engine struct {
	signInRules   []Rule
	windowedRules []Rule
}

// NewEngine builds the rule set over an error-code catalogue.
func NewEngine(cfg Config, cat *catalog.Catalog) *Engine {
	return &Engine{
		// Precedence from the domain spec §2: CA block before lockout
		// before bad password before the error-code fallback.
		signInRules: []Rule{
			blockedByConditionalAccess{},
			accountLocked{},
			invalidCredentials{},
			errorCodeInsight{catalog: cat},
		},
		windowedRules: []Rule{
			excessiveFailures{threshold: cfg.FailureThreshold},
		},
	}
}

// Evaluate returns the findings of one sign-in, possibly none.
func (e *Engine) Evaluate(in Input) []schemas.Finding {
	var out []schemas.Finding
	for _, r := range e.signInRules {
		if f, ok := r.Evaluate(in); ok {
			out = append(out, f)
			break
		}
	}
	for _, r := range e.windowedRules {
		if f, ok := r.Evaluate(in); ok {
			out = append(out, f)
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
		ID:                schemas.FindingID(scenario, si.Category, si.ID),
		SignInID:          si.ID,
		CorrelationID:     si.CorrelationID,
		UserID:            si.UserID,
		UserPrincipalName: si.UserPrincipalName,
		AppID:             si.AppID,
		AppDisplayName:    si.AppDisplayName,
		OccurredAt:        si.CreatedDateTime,
		Scenario:          scenario,
		Severity:          severity,
		Title:             title,
		Summary:           summary,
		Recommendations:   recs,
		ErrorCode:         si.Status.ErrorCode,
		Failures48h:       in.Failures48h,
		Flagged:           si.FlaggedForReview,
		UserKey:           si.UserKey(),
	}
	if si.Status.ErrorCode != 0 {
		f.ErrorCodeURL = catalog.ErrorPage(si.Status.ErrorCode)
	}
	return f
}
