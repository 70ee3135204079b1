package rules

import (
	"errors"
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
// The env tags name the variables that set it, below the prefix the
// binary nests it under (SPRAY_).
type SprayConfig struct {
	Window    time.Duration `env:"WINDOW, default=20m"`
	Threshold int           `env:"THRESHOLD, default=5"`
	Codes     []int         `env:"CODES, default=50053,50126,50055"`
}

// Validate reports each setting out of range, named by its variable.
func (c SprayConfig) Validate() error {
	var errs []error
	if c.Window <= 0 {
		errs = append(errs, fmt.Errorf("WINDOW: expected a positive duration, got %s", c.Window))
	}
	if c.Threshold < 2 {
		errs = append(errs, fmt.Errorf("THRESHOLD: expected a whole number of at least 2, got %d", c.Threshold))
	}
	if len(c.Codes) == 0 {
		errs = append(errs, errors.New("CODES: expected a comma-separated list of error codes such as 50053,50126,50055"))
	}
	return errors.Join(errs...)
}

// DefaultSprayConfig is M1's.
func DefaultSprayConfig() SprayConfig {
	return SprayConfig{Window: 20 * time.Minute, Threshold: 5, Codes: []int{50053, 50126, 50055}}
}

// SprayRule says which sign-ins the rekey stage publishes to the per-IP
// topic.
type SprayRule struct{ cfg SprayConfig }

// NewSprayRule builds the rule.
func NewSprayRule(cfg SprayConfig) *SprayRule { return &SprayRule{cfg: cfg} }

// Candidate reports whether a sign-in feeds the per-IP windows: a user's
// sign-in from a known IP that failed with one of the spray codes.
func (r *SprayRule) Candidate(si *schemas.SignIn) bool {
	if si.IPAddress == "" || si.UserID == "" && si.UserPrincipalName == "" {
		return false
	}
	return containsCode(r.cfg.Codes, si.Status.ErrorCode)
}

func init() {
	def := DefaultSprayConfig()
	register(ScenarioPasswordSpray, Tuning(def), func(t Tuning) Detection {
		codes := t.Codes
		return Detection{
			Key:         KeyIP,
			CountsUsers: true,
			Qualifies: func(c Candidate) bool {
				return c.IP != "" && c.UserKey != "" && containsCode(codes, c.ErrorCode)
			},
			EvidenceCodes: codes,
			Describe:      describeSpray,
		}
	})
}

func describeSpray(d *Detection, v IncidentView) Description {
	ip := v.Key
	summary := fmt.Sprintf("At least %d distinct users failed to sign in from IP %s within %s (%d failed sign-ins with error %s %s), the pattern of a password spray.",
		d.Threshold, ip, windowWords(d.Window), v.Count, codesWords(d.EvidenceCodes), span(v.First, v.Last))
	if si := v.Latest; si != nil {
		summary += fmt.Sprintf(" The latest is %s signing in to %s (error %d).", who(si), app(si), si.Status.ErrorCode)
		if loc := from(si); loc != "" {
			summary += " Source:" + loc[len(" from"):] + "."
		}
	}
	recs := []string{
		fmt.Sprintf("Block IP %s with a Conditional Access named location (or at the network edge) while you investigate.", ip),
		fmt.Sprintf("Check whether any user then signed in successfully from %s: a success after a spray means a guessed password; reset those passwords and revoke their sessions.", ip),
		"Require MFA for every user (Conditional Access or security defaults) and block legacy authentication, which sprays favour.",
		"Enable Microsoft Entra Password Protection with a custom banned-password list, and review smart lockout settings.",
	}
	return Description{Severity: schemas.SeverityHigh, Title: fmt.Sprintf("Password spray from %s", ip), Summary: summary, Recommendations: recs}
}
