package rules

import (
	"fmt"
	"strings"

	"github.com/signindiag/signindiag/schemas"
)

// Legacy-authentication and MFA rules (docs/scenarios.md rows 3, 5, 6, 7, 15
// and 20). MFA prompts and registration prompts are interrupts: not
// failures, they do not count in the 48-hour window, but the diagnostic
// explains them (who asked for MFA, and why).

// mfaPromptCodes: MFA required and not yet passed (or expired).
var mfaPromptCodes = map[int]bool{50074: true, 50076: true, 50078: true}

// proofUpCodes: MFA registration (proof-up) required.
var proofUpCodes = map[int]bool{50079: true, 50072: true}

// ---- legacy_authentication ----

// legacyAuthentication: a legacy (basic-auth) client that was asked for MFA
// or registration, which it can never do; or a password-only success over
// basic authentication or ROPC, which no MFA policy could interrupt. The
// case of a block by a client-type policy is legacyBlockedByConditionalAccess.
type legacyAuthentication struct{ env }

func (legacyAuthentication) Scenario() string { return ScenarioLegacyAuthentication }

func (r legacyAuthentication) Evaluate(in Input) (schemas.Finding, bool) {
	si := in.SignIn
	code := si.Status.ErrorCode
	ua := basicAuthUserAgent(si)
	switch {
	case isLegacyClient(si) && (mfaPromptCodes[code] || proofUpCodes[code]):
		asked := "multifactor authentication"
		if proofUpCodes[code] {
			asked = "MFA registration"
		}
		source, policies := mfaSourcePhrase(si)
		summary := fmt.Sprintf("The sign-in of %s to %s%s was interrupted because %s was required%s (error %d), but the client %q uses legacy (basic) authentication, which cannot show an MFA prompt: this sign-in can never complete from that client.",
			who(si), appAndResource(si), from(si), asked, source, code, si.ClientAppUsed)
		recs := []string{
			fmt.Sprintf("Move the device or app that uses %s for %s (IP %s, user agent %s) to modern authentication; until then it keeps failing.",
				si.ClientAppUsed, who(si), orUnknown(si.IPAddress), orUnknown(si.UserAgent)),
			legacyClientAdvice(si),
			"Block legacy authentication with a Conditional Access policy (client apps: Exchange ActiveSync clients and Other clients) rather than exempting the client from MFA.",
		}
		f := newFinding(in, ScenarioLegacyAuthentication, schemas.SeverityLow, "Legacy authentication cannot complete MFA", summary+entraSaid(si), recs)
		f.Policies = summaries(policies)
		return f, true

	case code == 0 && (ua != "" || (isROPC(si) && isLegacyClient(si) && singleFactor(si))):
		how := fmt.Sprintf("the legacy client %q", orUnknown(si.ClientAppUsed))
		if ua != "" {
			how += fmt.Sprintf(" with user agent %q (Exchange Online turning a basic-auth request into a password-only ROPC token request)", si.UserAgent)
		} else {
			how += " and the resource owner password credentials (ROPC) flow"
		}
		summary := fmt.Sprintf("%s signed in successfully to %s%s with a password only, through %s. Such sign-ins cannot be challenged for MFA, which is how a guessed or sprayed password gets in.",
			who(si), appAndResource(si), from(si), how)
		if rp := riskPhrase(si); rp != "" {
			summary += " Identity Protection recorded " + rp + "."
		}
		recs := []string{
			fmt.Sprintf("Ask %s whether they use %s from IP %s (%s); if not, treat the password as compromised: reset it, revoke sessions, and review mailbox rules and recent sign-ins.",
				who(si), orUnknown(si.ClientAppUsed), orUnknown(si.IPAddress), orUnknown(si.Location.CountryOrRegion)),
			"Block legacy authentication with a Conditional Access policy (client apps: Exchange ActiveSync clients and Other clients), or turn off the protocol (e.g. SMTP AUTH) for mailboxes that do not need it.",
			legacyClientAdvice(si),
		}
		severity := schemas.SeverityMedium
		if ua != "" || signInRiskRank(si) >= 2 {
			severity = schemas.SeverityHigh
		}
		return newFinding(in, ScenarioLegacyAuthentication, severity, "Successful sign-in over legacy authentication", summary+entraSaid(si), recs), true
	}
	return schemas.Finding{}, false
}

// ---- who asked for MFA ----

// mfaSource classifies what asked for MFA on an interrupt:
// "ca" (Conditional Access), "other", or "" when the record does not say.
// It returns the policies that required MFA and the non-CA providers.
func mfaSource(si *schemas.SignIn) (kind string, policies []schemas.AppliedPolicy, others []string) {
	applied := filterPolicies(si.AppliedConditionalAccessPolicies, func(p schemas.AppliedPolicy) bool {
		return requiresMFA(p) && eqAny(p.Result, "failure", "success")
	})
	others = otherProviders(si)
	for _, p := range providers(si) {
		if isCAProvider(p) {
			return "ca", applied, others
		}
	}
	if len(others) > 0 {
		return "other", applied, others
	}
	if len(applied) > 0 || mfaStepRequirementMentionsCA(si) ||
		(eq(si.ConditionalAccessStatus, "failure") && mfaEvidence(si)) {
		return "ca", applied, nil
	}
	if eq(si.ConditionalAccessStatus, "notApplied") && mfaEvidence(si) {
		return "other", nil, nil
	}
	return "", nil, nil
}

// mfaSourcePhrase: " by Conditional Access policy "X"" or " by per-user MFA".
func mfaSourcePhrase(si *schemas.SignIn) (string, []schemas.AppliedPolicy) {
	kind, policies, others := mfaSource(si)
	switch kind {
	case "ca":
		if len(policies) > 0 {
			return " by Conditional Access " + noun(len(policies), "policy", "policies") + " " + quoted(policyNames(policies)), policies
		}
		return " by Conditional Access", nil
	case "other":
		if len(others) > 0 {
			var names []string
			for _, o := range others {
				names = append(names, providerPhrase(o))
			}
			return " by " + joinAnd(names), nil
		}
	}
	return "", nil
}

// nextStep says where to look for the outcome of an interrupted attempt.
func nextStep(si *schemas.SignIn) string {
	if si.CorrelationID != "" {
		return fmt.Sprintf("Whether %s then completed it shows in the later sign-ins with correlation id %s (the attempt succeeded if one ends with error 0).", who(si), si.CorrelationID)
	}
	return fmt.Sprintf("Whether %s then completed it shows in their next sign-ins to %s.", who(si), app(si))
}

// ---- mfa_proofup_risky_location ----

type mfaProofUpRiskyLocation struct{ env }

func (mfaProofUpRiskyLocation) Scenario() string { return ScenarioMFAProofUpRiskyLocation }

func (r mfaProofUpRiskyLocation) Evaluate(in Input) (schemas.Finding, bool) {
	si := in.SignIn
	code := si.Status.ErrorCode
	risk := signInRiskRank(si)
	if code != 53010 && code != 53004 && !(proofUpCodes[code] && risk >= 1) {
		return schemas.Finding{}, false
	}
	trusted := trustedLocations(si)
	where := "not from a trusted named location"
	if len(trusted) > 0 {
		where = "from the trusted named location " + quoted(trusted)
	}
	var summary, title string
	var recs []string
	severity := schemas.SeverityMedium
	switch code {
	case 53010:
		title = "MFA registration blocked outside a trusted location"
		summary = fmt.Sprintf("%s could not register security information (MFA methods) while signing in to %s%s, %s (error 53010): the tenant only allows registration from specific locations or devices.",
			who(si), appAndResource(si), from(si), where)
		recs = append(recs,
			fmt.Sprintf("%s registers from a non-risky network location, such as the corporate network defined as a trusted named location, or from a compliant device, as the \"Register security information\" Conditional Access policy requires.", who(si)),
			"If the user cannot come on site (new hire, remote worker), issue a Temporary Access Pass: registering with it satisfies the policy.")
	case 53004:
		severity = schemas.SeverityHigh
		title = "MFA registration blocked because of risk"
		summary = fmt.Sprintf("%s was prevented from registering MFA methods while signing in to %s%s, %s, because the sign-in or user is risky (error 53004).",
			who(si), appAndResource(si), from(si), where)
		recs = append(recs,
			fmt.Sprintf("Investigate before helping: someone holding %s's password may be trying to register their own MFA method. Review Identity Protection > Risky sign-ins and Risky users.", who(si)),
			"If it was the user: remediate the risk (admin password reset, then dismiss the user risk), and let them register from a trusted location or with a Temporary Access Pass.")
	default:
		title = "MFA registration requested from a risky sign-in"
		if risk >= 3 {
			severity = schemas.SeverityHigh
		}
		summary = fmt.Sprintf("%s was asked to register MFA methods (proof-up, error %d) while signing in to %s%s, %s, and Identity Protection rated the sign-in %s risk.",
			who(si), code, appAndResource(si), from(si), where, riskLevelName(risk))
		recs = append(recs,
			fmt.Sprintf("Confirm with %s that they are setting up MFA from IP %s (%s): an attacker with the password registering their own method is a common takeover path.", who(si), orUnknown(si.IPAddress), orUnknown(si.Location.CountryOrRegion)),
			"Require security-info registration from trusted locations or compliant devices with a Conditional Access policy on the user action \"Register security information\", and pre-register users or hand out Temporary Access Passes.")
	}
	if rp := riskPhrase(si); rp != "" {
		summary += " Identity Protection recorded " + rp + "."
	}
	failed := failedPolicies(si)
	if len(failed) > 0 {
		summary += " Policies that failed: " + describePolicies(failed) + "."
	}
	f := newFinding(in, ScenarioMFAProofUpRiskyLocation, severity, title, summary+entraSaid(si), recs)
	f.Policies = summaries(failed)
	return f, true
}

// ---- mfa_proofup_required ----

type mfaProofUpRequired struct{ env }

func (mfaProofUpRequired) Scenario() string { return ScenarioMFAProofUpRequired }

func (r mfaProofUpRequired) Evaluate(in Input) (schemas.Finding, bool) {
	si := in.SignIn
	code := si.Status.ErrorCode
	if !proofUpCodes[code] {
		return schemas.Finding{}, false
	}
	var by []string
	for _, p := range providers(si) {
		if isProofUpProvider(p) || !isCAProvider(p) {
			by = append(by, providerPhrase(p))
		}
	}
	required := ""
	if len(by) > 0 {
		required = ", required by " + joinAnd(by)
	}
	summary := fmt.Sprintf("%s was asked to set up multifactor authentication (proof-up) while signing in to %s%s (error %d, an interrupt%s): the sign-in continues only once registration is complete. %s",
		who(si), appAndResource(si), from(si), code, required, nextStep(si))
	recs := []string{
		fmt.Sprintf("%s completes security-info registration at https://aka.ms/mysecurityinfo.", who(si)),
		"If the user cannot complete it (no phone yet, first day), issue a Temporary Access Pass; pre-register new users' methods where possible.",
	}
	if hasProvider(si, "mfaRegistrationRequiredByIdentityProtectionPolicy") {
		recs = append(recs, "The Identity Protection MFA registration policy asked for it: users may skip it for up to 14 days, after which registration is mandatory.")
	}
	if !si.IsInteractive || (code == 50079 && !isBrowser(si)) {
		recs = append(recs, fmt.Sprintf("%s cannot show the registration pages itself (non-interactive or rich client): the user must register once through a browser, then the app works again.", app(si)))
	}
	mfaPolicies := filterPolicies(si.AppliedConditionalAccessPolicies, func(p schemas.AppliedPolicy) bool {
		return requiresMFA(p) && eqAny(p.Result, "failure", "success")
	})
	f := newFinding(in, ScenarioMFAProofUpRequired, schemas.SeverityInfo, "MFA registration required", summary+entraSaid(si), recs)
	f.Policies = summaries(mfaPolicies)
	return f, true
}

// ---- mfa_denied ----

type mfaDenied struct{ env }

func (mfaDenied) Scenario() string { return ScenarioMFADenied }

func (r mfaDenied) Evaluate(in Input) (schemas.Finding, bool) {
	si := in.SignIn
	code := si.Status.ErrorCode
	if code != 500121 && code != 50158 {
		return schemas.Finding{}, false
	}
	method, stepDetail := failedStepDetail(si)
	detail := strings.TrimSpace(si.Status.AdditionalDetails)
	if detail == "" || eqAny(detail, "MFA required in Azure AD", "MFA required") {
		if stepDetail != "" {
			detail = stepDetail
		}
	}
	reason := classifyMFAFailure(detail)
	if code == 50158 {
		reason = "external"
	}
	how := ""
	if method != "" {
		how = ", method " + method
	}
	summary := fmt.Sprintf("%s failed the multifactor authentication step signing in to %s%s (error %d%s)",
		who(si), appAndResource(si), from(si), code, how)
	if detail != "" {
		summary += fmt.Sprintf(": %q", detail)
	}
	summary += fmt.Sprintf(". The password step had already succeeded, so whoever made this attempt knows %s's password. %s.", who(si), capitalize(failures48h(in)))

	severity := schemas.SeverityLow
	var title string
	var recs []string
	compromise := fmt.Sprintf("If %s did not start this sign-in, someone else has the password: reset it, revoke their sessions, and review sign-ins from IP %s and MFA methods registered recently.", who(si), orUnknown(si.IPAddress))
	switch reason {
	case "fraud":
		severity = schemas.SeverityHigh
		title = "MFA fraud reported"
		recs = append(recs,
			fmt.Sprintf("%s reported the MFA request as fraud: they did not start this sign-in. Treat the password as compromised now: reset it, revoke sessions, and review sign-ins from IP %s (%s).", who(si), orUnknown(si.IPAddress), orUnknown(si.Location.CountryOrRegion)),
			"Entra may have blocked the user for MFA after the fraud report: unblock them once the account is secured (or let the report-suspicious-activity setting raise user risk so a risk policy handles it).")
	case "declined":
		severity = schemas.SeverityMedium
		title = "MFA denied by the user"
		recs = append(recs,
			fmt.Sprintf("Ask %s whether they started a sign-in to %s from IP %s (%s) at %s. If yes, they retry and approve.", who(si), app(si), orUnknown(si.IPAddress), orUnknown(si.Location.CountryOrRegion), si.CreatedDateTime.Format("2006-01-02 15:04 MST")),
			compromise)
	case "noresponse":
		title = "MFA not answered"
		recs = append(recs,
			fmt.Sprintf("If %s started the sign-in: they retry with the phone at hand, and check that Microsoft Authenticator receives notifications (battery saving, notification settings).", who(si)),
			compromise,
			"Unanswered pushes repeated in a short time are a sign of MFA fatigue: keep number matching and additional context enabled in the Authenticator policy.")
	case "wrongcode":
		title = "Wrong MFA code"
		recs = append(recs,
			fmt.Sprintf("If %s mistyped: they retry (check the phone's clock for time-based codes).", who(si)),
			"Many wrong codes in a short time from an unknown IP suggest someone guessing one-time codes with the password already in hand: reset the password.")
	case "blocked":
		severity = schemas.SeverityMedium
		title = "User blocked for MFA"
		recs = append(recs,
			fmt.Sprintf("%s is blocked for MFA (after a fraud report, or by an administrator): find out why before unblocking them in Entra admin center > Protection > Multifactor authentication > Block/unblock users.", who(si)),
			compromise)
	case "nomethods":
		title = "No MFA method registered"
		recs = append(recs,
			fmt.Sprintf("%s has no usable verification method: have them register at https://aka.ms/mysecurityinfo, or issue a Temporary Access Pass.", who(si)))
	case "phone":
		title = "MFA phone unreachable"
		recs = append(recs,
			fmt.Sprintf("The phone call or SMS to %s did not go through: check the phone number registered in their authentication methods, or have them use Microsoft Authenticator.", who(si)))
	case "external":
		title = "External MFA not satisfied"
		recs = append(recs,
			"The external MFA or claims provider (external authentication method or custom control) did not satisfy the challenge: check the provider's logs and its configuration in Entra.",
			compromise)
	default:
		title = "MFA failed"
		recs = append(recs,
			fmt.Sprintf("Read the additional details above: %s retries and completes MFA if they started the sign-in.", who(si)),
			compromise)
	}
	if in.Failures48h >= r.cfg.RepeatedFailures && severity != schemas.SeverityHigh {
		severity = schemas.SeverityHigh
		recs = append(recs, fmt.Sprintf("%s: repeated MFA failures with a correct password look like an attacker pushing prompts until the user gives in (MFA fatigue).", capitalize(failures48h(in))))
	}
	f := newFinding(in, ScenarioMFADenied, severity, title, summary, recs)
	f.Policies = summaries(filterPolicies(si.AppliedConditionalAccessPolicies, func(p schemas.AppliedPolicy) bool {
		return requiresMFA(p) && eqAny(p.Result, "failure", "success")
	}))
	return f, true
}

// classifyMFAFailure reads the MFA result vocabulary
// (docs/event-shapes.md#mfa-result-details).
func classifyMFAFailure(detail string) string {
	d := strings.ToLower(detail)
	switch {
	case strings.Contains(d, "fraud"):
		return "fraud"
	case strings.Contains(d, "declined"), strings.Contains(d, "denied; user denied"):
		return "declined"
	case strings.Contains(d, "did not respond"), strings.Contains(d, "didn't respond"), strings.Contains(d, "never entered"),
		strings.Contains(d, "timed out"), strings.Contains(d, "timeout"), strings.Contains(d, "hung up"):
		return "noresponse"
	case strings.Contains(d, "incorrect code"), strings.Contains(d, "incorrect pin"), strings.Contains(d, "invalid verification code"),
		strings.Contains(d, "invalid mobile app verification code"), strings.Contains(d, "too many times"), strings.Contains(d, "already used"):
		return "wrongcode"
	case strings.Contains(d, "user is blocked"), strings.Contains(d, "blocked"):
		return "blocked"
	case strings.Contains(d, "verification methods registered"), strings.Contains(d, "no verification"):
		return "nomethods"
	case strings.Contains(d, "unable to reach"), strings.Contains(d, "voicemail"), strings.Contains(d, "invalid format"),
		strings.Contains(d, "unable to send"):
		return "phone"
	}
	return ""
}

// ---- mfa_from_conditional_access ----

type mfaFromConditionalAccess struct{ env }

func (mfaFromConditionalAccess) Scenario() string { return ScenarioMFAFromConditionalAccess }

func (r mfaFromConditionalAccess) Evaluate(in Input) (schemas.Finding, bool) {
	si := in.SignIn
	code := si.Status.ErrorCode
	if !mfaPromptCodes[code] {
		return schemas.Finding{}, false
	}
	kind, policies, others := mfaSource(si)
	if kind != "ca" {
		return schemas.Finding{}, false
	}
	by := "Conditional Access"
	if len(policies) > 0 {
		by = "Conditional Access " + noun(len(policies), "policy", "policies") + " " + quoted(policyNames(policies))
	}
	summary := fmt.Sprintf("%s was asked for multifactor authentication by %s while signing in to %s%s (error %d, an interrupt, not a failure).",
		who(si), by, appAndResource(si), from(si), code)
	for _, p := range policies {
		summary += fmt.Sprintf(" %q %s.", policyName(p), grantPhrase(p))
	}
	if len(others) > 0 {
		var names []string
		for _, o := range others {
			names = append(names, providerPhrase(o))
		}
		summary += " MFA was also required by " + joinAnd(names) + "."
	}
	summary += " " + nextStep(si)
	recs := []string{
		fmt.Sprintf("Nothing to fix if %s then completed MFA.", who(si)),
		fmt.Sprintf("If %s could not complete it: check their registered methods (Entra admin center > Users > %s > Authentication methods) and issue a Temporary Access Pass if they lost their device.", who(si), who(si)),
	}
	if len(policies) > 0 {
		recs = append(recs, fmt.Sprintf("Confirm that %s should require MFA for %s under these conditions (What If tool).", quoted(policyNames(policies)), app(si)))
	} else {
		recs = append(recs, fmt.Sprintf("Confirm which Conditional Access policy required MFA for %s (What If tool, or the sign-in's Conditional Access tab).", app(si)))
	}
	if !si.IsInteractive {
		recs = append(recs, fmt.Sprintf("On a non-interactive sign-in %s must prompt the user interactively; an unattended script or service cannot do MFA: give it a workload identity (service principal or managed identity) instead of excluding the user from the policy.", app(si)))
	}
	f := newFinding(in, ScenarioMFAFromConditionalAccess, schemas.SeverityInfo, "MFA required by Conditional Access", summary+entraSaid(si), recs)
	f.Policies = summaries(policies)
	return f, true
}

// ---- mfa_from_other_requirements ----

type mfaFromOtherRequirements struct{ env }

func (mfaFromOtherRequirements) Scenario() string { return ScenarioMFAFromOtherRequirements }

func (r mfaFromOtherRequirements) Evaluate(in Input) (schemas.Finding, bool) {
	si := in.SignIn
	code := si.Status.ErrorCode
	if !mfaPromptCodes[code] {
		return schemas.Finding{}, false
	}
	kind, _, others := mfaSource(si)
	if kind != "other" {
		return schemas.Finding{}, false
	}
	var by string
	if len(others) > 0 {
		var names []string
		for _, o := range others {
			names = append(names, providerPhrase(o))
		}
		by = joinAnd(names)
	} else {
		by = "a requirement other than Conditional Access (no Conditional Access policy applied; the record does not name the provider: per-user MFA, security defaults or the application's request)"
	}
	summary := fmt.Sprintf("%s was asked for multifactor authentication by %s while signing in to %s%s (error %d, an interrupt, not a failure). %s",
		who(si), by, appAndResource(si), from(si), code, nextStep(si))
	var recs []string
	for _, o := range others {
		switch strings.ToLower(o) {
		case "user":
			recs = append(recs, fmt.Sprintf("Per-user MFA asks %s for MFA on every sign-in whatever the context. Microsoft recommends converting per-user MFA to Conditional Access (Entra recommendation \"Turn off per-user MFA\"): require MFA with a policy, then set the user's per-user MFA state to Disabled.", who(si)))
		case "securitydefaults":
			recs = append(recs, "Security defaults ask for MFA when Entra deems it necessary, and always for administrators. To decide when MFA is asked (e.g. not from compliant devices), replace security defaults with Conditional Access policies (Microsoft Entra ID P1).")
		case "request":
			recs = append(recs, fmt.Sprintf("%s asked for MFA itself (an acr/amr claims request or a claims challenge): check with the app's owner that its authentication request is intended.", app(si)))
		case "riskbasedpolicy", "tenantsessionriskpolicy", "accountcompromisepolicies":
			risk := riskPhrase(si)
			if risk == "" {
				risk = "a risk detection"
			}
			recs = append(recs, fmt.Sprintf("Identity Protection asked for MFA because of %s: review the sign-in in Risky sign-ins and confirm it safe or compromised.", risk))
		case "enforcedforcspadmins":
			recs = append(recs, "MFA is enforced for partner (CSP) administrators accessing customer tenants: the partner admin must complete MFA in the partner tenant.")
		}
	}
	if len(others) == 0 {
		recs = append(recs, fmt.Sprintf("Check %s's per-user MFA state and whether security defaults are on; if MFA should come from Conditional Access only, turn off per-user MFA.", who(si)))
	}
	recs = append(recs, fmt.Sprintf("Nothing to fix if %s then completed MFA; if they could not, check their registered methods or issue a Temporary Access Pass.", who(si)))
	if !si.IsInteractive {
		recs = append(recs, fmt.Sprintf("On a non-interactive sign-in %s must prompt the user interactively; an unattended script or service cannot do MFA: give it a workload identity instead.", app(si)))
	}
	return newFinding(in, ScenarioMFAFromOtherRequirements, schemas.SeverityInfo, "MFA required by other requirements", summary+entraSaid(si), recs), true
}
