package rules

import (
	"fmt"
	"strings"

	"github.com/signindiag/signindiag/rules/catalog"
	"github.com/signindiag/signindiag/schemas"
)

// blockedByConditionalAccess: error 53003, a policy with a Block grant
// control failed the sign-in.
type blockedByConditionalAccess struct{}

func (blockedByConditionalAccess) Scenario() string { return ScenarioBlockedByConditionalAccess }

func (blockedByConditionalAccess) Evaluate(in Input) (schemas.Finding, bool) {
	si := in.SignIn
	if si.Status.ErrorCode != 53003 {
		return schemas.Finding{}, false
	}
	names, described := failingPolicies(si)
	policy := "a Conditional Access policy"
	if len(names) == 1 {
		policy = "Conditional Access policy " + names[0]
	} else if len(names) > 1 {
		policy = "Conditional Access policies " + strings.Join(names, ", ")
	}
	summary := fmt.Sprintf("The sign-in of %s to %s%s was blocked by %s (error 53003).",
		who(si), app(si), from(si), policy)
	if len(described) > 0 {
		summary += " Policies that failed: " + strings.Join(described, "; ") + "."
	}
	summary += fmt.Sprintf(" %s in the last 48 hours.", plural(in.Failures48h, "failed sign-in", "failed sign-ins"))

	target := "the blocking policy"
	if len(names) > 0 {
		target = names[0]
	}
	recs := []string{
		fmt.Sprintf("Review %s in Entra admin center > Protection > Conditional Access and confirm that blocking %s for %s under these conditions is intended.", target, who(si), app(si)),
		fmt.Sprintf("Run the Conditional Access What If tool for %s, %s, IP %s and platform %s to see which conditions matched.",
			who(si), app(si), orUnknown(si.IPAddress), orUnknown(si.DeviceDetail.OperatingSystem)),
		"If the block is not intended, adjust the policy's assignments or exclusions, and check the audit log for recent \"Update conditional access policy\" changes.",
	}
	if isLegacyClient(si) {
		recs = append(recs, fmt.Sprintf("The client %q uses legacy authentication, which cannot do MFA: move it to modern authentication rather than excluding it from the policy.", si.ClientAppUsed))
	}
	return newFinding(in, ScenarioBlockedByConditionalAccess, schemas.SeverityMedium,
		"Blocked by Conditional Access", summary, recs), true
}

// accountLocked: error 50053, smart lockout or a sign-in from an IP with
// malicious activity; the failure reason tells them apart.
type accountLocked struct{}

func (accountLocked) Scenario() string { return ScenarioAccountLocked }

func (accountLocked) Evaluate(in Input) (schemas.Finding, bool) {
	si := in.SignIn
	if si.Status.ErrorCode != 50053 {
		return schemas.Finding{}, false
	}
	maliciousIP := strings.Contains(strings.ToLower(si.Status.FailureReason), "malicious")
	summary := fmt.Sprintf("The account %s was locked while signing in to %s%s (error 50053), after %s in the last 48 hours.",
		who(si), app(si), from(si), plural(in.Failures48h, "failed sign-in", "failed sign-ins"))
	if maliciousIP {
		summary += " Entra reports the source IP for malicious activity, not the user's own attempts."
	}
	recs := []string{
		fmt.Sprintf("Check with %s whether the %s came from them: compare the apps, devices and IP addresses of the recent failures.", who(si), plural(in.Failures48h, "failed attempt", "failed attempts")),
		"If the attempts are legitimate, the user waits for the lockout to expire (60 seconds by default, longer on repeats) or resets the password with self-service password reset, which also clears the lockout.",
		fmt.Sprintf("If they are not, block the source (IP %s) with a Conditional Access named-location policy, reset the password and review the user's recent sign-ins.", orUnknown(si.IPAddress)),
		"Review smart lockout settings (threshold and duration) in Entra admin center > Protection > Authentication methods > Password protection.",
	}
	severity := schemas.SeverityMedium
	if maliciousIP || in.Failures48h >= 10 {
		severity = schemas.SeverityHigh
	}
	return newFinding(in, ScenarioAccountLocked, severity, "Account locked", summary, recs), true
}

// invalidCredentials: error 50126, wrong user name or password. Repeated
// failures from a non-browser client usually mean a cached old password.
type invalidCredentials struct{}

func (invalidCredentials) Scenario() string { return ScenarioInvalidCredentials }

func (invalidCredentials) Evaluate(in Input) (schemas.Finding, bool) {
	si := in.SignIn
	if si.Status.ErrorCode != 50126 {
		return schemas.Finding{}, false
	}
	summary := fmt.Sprintf("%s entered an invalid user name or password signing in to %s%s (error 50126); %s in the last 48 hours.",
		who(si), app(si), from(si), plural(in.Failures48h, "failed sign-in", "failed sign-ins"))
	var recs []string
	cachedPassword := in.Failures48h >= 3 && (!si.IsInteractive || isLegacyClient(si) ||
		(si.ClientAppUsed != "" && !strings.EqualFold(si.ClientAppUsed, "Browser")))
	if cachedPassword {
		recs = append(recs,
			fmt.Sprintf("Repeated failures from the client %q suggest an app or device that stored an old password: update the password saved for %s on that device or app.", orUnknown(si.ClientAppUsed), app(si)))
	}
	recs = append(recs,
		"If the user mistyped, they retry; if they forgot the password, they reset it with self-service password reset.",
		"If the user did not make these attempts, treat them as a password-guessing attack: check the source IPs and require MFA for this user.")
	if isLegacyClient(si) {
		recs = append(recs, fmt.Sprintf("The client %q uses legacy authentication: block legacy authentication with Conditional Access and move the client to modern authentication.", si.ClientAppUsed))
	}
	severity := schemas.SeverityLow
	if in.Failures48h >= 5 {
		severity = schemas.SeverityMedium
	}
	return newFinding(in, ScenarioInvalidCredentials, severity, "Invalid username or password", summary, recs), true
}

// errorCodeInsight is the fallback for failures no contextual rule
// explains: the catalogue's meaning and remediation for the code, or what
// Entra sent for a code the catalogue does not know.
type errorCodeInsight struct{ catalog *catalog.Catalog }

func (errorCodeInsight) Scenario() string { return ScenarioErrorCodeInsight }

func (r errorCodeInsight) Evaluate(in Input) (schemas.Finding, bool) {
	si := in.SignIn
	if !in.IsFailure {
		return schemas.Finding{}, false
	}
	code := si.Status.ErrorCode
	entry, known := r.catalog.Lookup(code)
	var summary string
	var recs []string
	if known {
		summary = fmt.Sprintf("The sign-in of %s to %s%s failed with error %d (%s: %s).",
			who(si), app(si), from(si), code, entry.Name, entry.Meaning)
		recs = append(recs, entry.Remediation)
	} else {
		summary = fmt.Sprintf("The sign-in of %s to %s%s failed with error %d, which the catalogue does not know.",
			who(si), app(si), from(si), code)
		recs = append(recs, "Read the error code's page and the failure reason Entra sent; extend the catalogue with SIGNINDIAG_RULES_FILE once the cause is known.")
	}
	if si.Status.FailureReason != "" {
		summary += fmt.Sprintf(" Entra's failure reason: %q.", si.Status.FailureReason)
	}
	if si.Status.AdditionalDetails != "" {
		summary += fmt.Sprintf(" Additional details: %q.", si.Status.AdditionalDetails)
	}
	recs = append(recs, fmt.Sprintf("Error code reference: %s", catalog.ErrorPage(code)))
	return newFinding(in, ScenarioErrorCodeInsight, schemas.SeverityLow,
		fmt.Sprintf("Error code insight: %d", code), summary, recs), true
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}
