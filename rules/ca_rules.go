package rules

import (
	"fmt"
	"strings"

	"github.com/signindiag/signindiag/schemas"
)

// Conditional Access, risk and security-defaults rules. Recognition
// follows docs/scenarios.md rows 1, 2, 4, 13, 15 and 16.

// Codes whose meaning is a Conditional Access grant control not met
// (docs/scenarios.md row 2), whatever conditionalAccessStatus says.
var caGrantCodes = map[int]bool{53000: true, 53001: true, 53002: true, 530021: true, 530003: true,
	50005: true, 50131: true, 50129: true}

// deviceAuthCodes are device-authentication errors: a Conditional Access
// grant failure only when a policy was involved (see failedConditionalAccess).
var deviceAuthCodes = map[int]bool{50155: true, 50187: true, 135011: true, 50097: true}

// mfaCodes are the codes of the MFA step itself; a failing policy that
// only asks for MFA explains them through the MFA scenarios, not as a CA
// grant failure.
var mfaCodes = map[int]bool{500121: true, 50158: true, 50074: true, 50076: true, 50078: true,
	50079: true, 50072: true, 53004: true, 53010: true}

// riskCodes are blocks for risk that need no policy details (docs/scenarios.md row 16).
var riskCodes = map[int]bool{53011: true, 530034: true, 50135: true}

// caBlock recognises a Conditional Access block: 53003, 530032 (tenant
// security policy), or a failure whose failing policy's grant is Block.
// It returns the policies that blocked.
func caBlock(in Input) ([]schemas.AppliedPolicy, bool) {
	si := in.SignIn
	code := si.Status.ErrorCode
	if code == 0 {
		return nil, false
	}
	failed := failedPolicies(si)
	blocking := filterPolicies(failed, isBlockPolicy)
	switch {
	case code == 53003 || code == 530032:
		if len(blocking) == 0 {
			blocking = failed
		}
		return blocking, true
	case in.IsFailure && !mfaCodes[code] && eq(si.ConditionalAccessStatus, "failure") && len(blocking) > 0:
		return blocking, true
	}
	return nil, false
}

// deviceGrant: the policy requires something of the device.
func deviceGrant(p schemas.AppliedPolicy) bool {
	return hasControl(p, "RequireCompliantDevice", "RequireDomainJoinedDevice")
}

// caGrantFailure recognises a Conditional Access grant control other than
// Block that the sign-in did not meet (docs/scenarios.md row 2), returning the policies.
func caGrantFailure(in Input) ([]schemas.AppliedPolicy, bool) {
	si := in.SignIn
	code := si.Status.ErrorCode
	if code == 0 {
		return nil, false
	}
	failed := filterPolicies(failedPolicies(si), func(p schemas.AppliedPolicy) bool { return !isBlockPolicy(p) })
	granting := filterPolicies(failed, nonMFAGrant)
	caFailed := eq(si.ConditionalAccessStatus, "failure")
	switch {
	case code == 53003 || code == 530032 || mfaCodes[code]:
		return nil, false
	case caGrantCodes[code]:
		if len(granting) == 0 {
			granting = failed
		}
		return granting, true
	case deviceAuthCodes[code]:
		// A device that failed to authenticate is a CA matter only when a
		// policy required something of it; otherwise it is the device's
		// own registration problem (error_code_insight explains it).
		devicePolicies := filterPolicies(failed, deviceGrant)
		if len(devicePolicies) > 0 {
			return devicePolicies, true
		}
		if caFailed && code != 50097 && len(granting) > 0 {
			return granting, true
		}
		return nil, false
	case in.IsFailure && caFailed && len(granting) > 0:
		return granting, true
	}
	return nil, false
}

// ---- blocked_by_risk_policy ----

type blockedByRiskPolicy struct{ env }

func (blockedByRiskPolicy) Scenario() string { return ScenarioBlockedByRiskPolicy }

func (r blockedByRiskPolicy) Evaluate(in Input) (schemas.Finding, bool) {
	si := in.SignIn
	code := si.Status.ErrorCode
	if code == 0 {
		return schemas.Finding{}, false
	}
	var policies []schemas.AppliedPolicy
	var conditions []string
	switch {
	case riskCodes[code]:
		policies = filterPolicies(failedPolicies(si), func(p schemas.AppliedPolicy) bool { return len(riskConditionsOf(p)) > 0 })
	default:
		risky := filterPolicies(failedPolicies(si), func(p schemas.AppliedPolicy) bool { return len(riskConditionsOf(p)) > 0 })
		_, blocked := caBlock(in)
		grantFailed := in.IsFailure && !mfaCodes[code] && len(risky) > 0
		switch {
		case (blocked || grantFailed) && len(risky) > 0:
			policies = risky
		case blocked && !policyDetailsKnown(si) && signInRiskRank(si) >= 2 && riskOpen(si):
			// No readable policy details: the risk fields carry the cause.
		default:
			return schemas.Finding{}, false
		}
	}
	for _, p := range policies {
		for _, c := range riskConditionsOf(p) {
			if !containsString(conditions, c) {
				conditions = append(conditions, c)
			}
		}
	}

	var summary string
	switch code {
	case 53011:
		summary = fmt.Sprintf("The sign-in of %s to %s%s was blocked because the user is at risk in their home tenant (%s) (error 53011).",
			who(si), appAndResource(si), from(si), homeTenant(si))
	case 530034:
		summary = fmt.Sprintf("The sign-in of %s to %s%s was blocked: the delegated (partner) administrator account was flagged for suspicious activity (error 530034).",
			who(si), appAndResource(si), from(si))
	case 50135:
		summary = fmt.Sprintf("The sign-in of %s to %s%s requires a password change because the account is at risk (error 50135).",
			who(si), appAndResource(si), from(si))
	default:
		by := "a risk-based Conditional Access policy"
		if len(policies) > 0 {
			by = "risk-based Conditional Access " + noun(len(policies), "policy", "policies") + " " + quoted(policyNames(policies))
		}
		summary = fmt.Sprintf("The sign-in of %s to %s%s was blocked by %s (error %d)", who(si), appAndResource(si), from(si), by, code)
		if len(conditions) > 0 {
			summary += ", which acts on " + strings.Join(conditions, " and ")
		}
		summary += "."
	}
	if rp := riskPhrase(si); rp != "" {
		summary += " Identity Protection recorded " + rp + "."
	}
	summary += " " + capitalize(failures48h(in)) + "."

	userRisk := containsString(conditions, "userRisk") || code == 50135 || code == 53011 || riskRank(si.RiskLevelAggregated) >= 2
	signInRisk := containsString(conditions, "signInRisk") || riskRank(si.RiskLevelDuringSignIn) >= 2
	var recs []string
	detections := "its risk detections"
	if ev := riskEvents(si); len(ev) > 0 {
		detections = "its detections (" + strings.Join(ev, ", ") + ")"
	}
	recs = append(recs, fmt.Sprintf("Open Entra admin center > Protection > Identity Protection > Risky sign-ins for %s and review %s and the IP %s: decide whether it was the user.",
		who(si), detections, orUnknown(si.IPAddress)))
	switch code {
	case 53011:
		recs = append(recs, fmt.Sprintf("The risk is held by %s: its administrators must remediate or dismiss the user's risk there; nothing in this tenant unblocks it.", homeTenant(si)))
	case 530034:
		recs = append(recs, "The partner tenant must investigate and remediate its administrator account's risk before delegated (GDAP/DAP) access works again; contact the partner.")
	}
	if userRisk {
		recs = append(recs, fmt.Sprintf("If it was %s: have them perform a secure password change (self-service password reset with MFA), or reset the password as an admin and dismiss the user risk; either remediates user risk and lifts the block.", who(si)))
	}
	if signInRisk {
		recs = append(recs, "If the sign-in was legitimate, mark it \"Confirm sign-in safe\"; consider requiring MFA for risky sign-ins instead of blocking them, so that legitimate users can remediate the risk themselves (Microsoft's recommended risk policy).")
	}
	recs = append(recs, fmt.Sprintf("If it was not the user: mark it \"Confirm sign-in compromised\", reset %s's password, revoke their sessions and review MFA methods registered recently and mailbox rules.", who(si)))
	if len(policies) > 0 {
		recs = append(recs, fmt.Sprintf("Review %s in Conditional Access: which risk levels it acts on and whom it targets (see \"Configure and enable risk policies\").", quoted(policyNames(policies))))
	}
	f := newFinding(in, ScenarioBlockedByRiskPolicy, schemas.SeverityHigh, "Blocked by risk policy", summary+entraSaid(si), recs)
	f.Policies = summaries(policies)
	return f, true
}

// policyDetailsKnown: some failing policy says what it matched on.
func policyDetailsKnown(si *schemas.SignIn) bool {
	for _, p := range failedPolicies(si) {
		if len(conditionSet(p.ConditionsSatisfied)) > 0 || len(p.IncludeRulesSatisfied) > 0 {
			return true
		}
	}
	return false
}

// ---- legacy_authentication, blocked by a client-type policy ----

type legacyBlockedByConditionalAccess struct{ env }

func (legacyBlockedByConditionalAccess) Scenario() string { return ScenarioLegacyAuthentication }

func (r legacyBlockedByConditionalAccess) Evaluate(in Input) (schemas.Finding, bool) {
	si := in.SignIn
	blocking, ok := caBlock(in)
	if !ok || !isLegacyClient(si) {
		return schemas.Finding{}, false
	}
	byClient := filterPolicies(blocking, func(p schemas.AppliedPolicy) bool { return satisfies(p, "clientType") })
	if len(byClient) == 0 {
		return schemas.Finding{}, false
	}
	summary := fmt.Sprintf("The sign-in of %s to %s%s used the legacy client %q (basic authentication, which cannot do MFA) and was blocked by Conditional Access %s %s, which matches on the client app type (error %d). Policies that failed: %s. %s.",
		who(si), appAndResource(si), from(si), si.ClientAppUsed, noun(len(byClient), "policy", "policies"), quoted(policyNames(byClient)),
		si.Status.ErrorCode, describePolicies(byClient), capitalize(failures48h(in)))
	if si.UserAgent != "" {
		summary += fmt.Sprintf(" User agent: %q.", si.UserAgent)
	}
	recs := []string{
		fmt.Sprintf("The block works as intended. Find the device or app that still signs %s in with %s (IP %s, user agent %s) and move it to modern authentication (OAuth 2.0).",
			who(si), si.ClientAppUsed, orUnknown(si.IPAddress), orUnknown(si.UserAgent)),
		legacyClientAdvice(si),
		fmt.Sprintf("Do not exclude %s from %s to make the client work: legacy protocols are the preferred entry point of password spraying because they cannot be challenged for MFA.", who(si), quoted(policyNames(byClient))),
	}
	severity := schemas.SeverityLow
	if in.Failures48h >= r.cfg.RepeatedFailures {
		severity = schemas.SeverityMedium
		recs = append(recs, fmt.Sprintf("%s: a device retrying in a loop, or someone guessing passwords over %s. If the IP addresses are not the user's, treat the password as known to an attacker and reset it.",
			capitalize(failures48h(in)), si.ClientAppUsed))
	}
	f := newFinding(in, ScenarioLegacyAuthentication, severity, "Legacy authentication blocked by Conditional Access", summary, recs)
	f.Policies = summaries(byClient)
	return f, true
}

// legacyClientAdvice says how to move a given legacy client off basic auth.
func legacyClientAdvice(si *schemas.SignIn) string {
	switch c := strings.ToLower(si.ClientAppUsed); {
	case strings.Contains(c, "activesync"):
		return "For Exchange ActiveSync, use Outlook for iOS/Android or a mail app that supports modern authentication, and remove the old account profile from the phone."
	case strings.Contains(c, "smtp"):
		return "For Authenticated SMTP (devices and apps that send mail), use SMTP AUTH with OAuth, a connector or Azure Communication Services; disable SMTP AUTH for mailboxes that do not need it."
	case strings.Contains(c, "imap"), strings.Contains(c, "pop"):
		return "For IMAP/POP, use a mail client that supports OAuth 2.0 for IMAP/POP (current Outlook, Thunderbird, Apple Mail) or move the user to Outlook; disable the protocol on mailboxes that do not need it."
	case strings.Contains(c, "powershell"):
		return "For Exchange Online PowerShell, use the EXO V3 module (Connect-ExchangeOnline), which uses modern authentication."
	case strings.Contains(c, "other"):
		return "\"Other clients\" covers older Office clients and other basic-auth protocols: update Office to a version with modern authentication and check the user agent for the app."
	}
	return "Update the client to a version that supports modern authentication, or replace it."
}

// ---- b2b_blocked_by_conditional_access ----

type b2bBlockedByConditionalAccess struct{ env }

func (b2bBlockedByConditionalAccess) Scenario() string { return ScenarioB2BBlockedByConditionalAccess }

func (r b2bBlockedByConditionalAccess) Evaluate(in Input) (schemas.Finding, bool) {
	si := in.SignIn
	code := si.Status.ErrorCode
	crossTenantPolicy := code == 500212 || code == 500213
	var policies []schemas.AppliedPolicy
	if !crossTenantPolicy {
		if !externalUser(si) {
			return schemas.Finding{}, false
		}
		blocked, ok := caBlock(in)
		if !ok {
			blocked, ok = caGrantFailure(in)
		}
		if !ok {
			return schemas.Finding{}, false
		}
		policies = blocked
	}

	var whoPhrase string
	switch {
	case ownUserAbroad(si):
		whoPhrase = fmt.Sprintf("%s, a user of this organisation signing in to another organisation (resource tenant %s),", who(si), si.ResourceTenantID)
	default:
		var facts []string
		if si.UserType != "" {
			facts = append(facts, "user type "+si.UserType)
		}
		if si.CrossTenantAccessType != "" && !eq(si.CrossTenantAccessType, "none") {
			facts = append(facts, "cross-tenant access "+si.CrossTenantAccessType)
		}
		whoPhrase = fmt.Sprintf("%s, an external user from %s", who(si), homeTenant(si))
		if len(facts) > 0 {
			whoPhrase += " (" + strings.Join(facts, ", ") + ")"
		}
		whoPhrase += ","
	}
	var summary string
	var recs []string
	switch code {
	case 500212:
		summary = fmt.Sprintf("%s was blocked signing in to %s%s by the outbound cross-tenant access settings of their home tenant, which do not allow access to the resource tenant %s (error 500212).",
			whoPhrase, appAndResource(si), from(si), orUnknown(si.ResourceTenantID))
		recs = append(recs, fmt.Sprintf("In the home tenant (%s): Entra admin center > External Identities > Cross-tenant access settings > Outbound access: allow B2B collaboration with tenant %s for this user or group, if the access is wanted.",
			homeTenant(si), orUnknown(si.ResourceTenantID)))
	case 500213:
		summary = fmt.Sprintf("%s was blocked signing in to %s%s by the inbound cross-tenant access settings of the resource tenant, which do not allow users from %s (error 500213).",
			whoPhrase, appAndResource(si), from(si), homeTenant(si))
		recs = append(recs, fmt.Sprintf("In the resource tenant: Entra admin center > External Identities > Cross-tenant access settings > Inbound access: allow B2B collaboration from %s (organisation-specific setting or default), if the access is wanted.", homeTenant(si)))
	default:
		pol := "a Conditional Access policy"
		if len(policies) > 0 {
			pol = "Conditional Access " + noun(len(policies), "policy", "policies") + " " + quoted(policyNames(policies))
		}
		summary = fmt.Sprintf("%s was blocked signing in to %s%s by %s (error %d).", whoPhrase, appAndResource(si), from(si), pol, code)
		if len(policies) > 0 {
			summary += " Policies that failed: " + describePolicies(policies) + "."
		}
		if ownUserAbroad(si) {
			recs = append(recs, fmt.Sprintf("The policy belongs to the resource organisation (tenant %s): %s must ask its administrators to review it; this tenant can only check its outbound cross-tenant access settings.",
				orUnknown(si.ResourceTenantID), who(si)))
		}
		for _, p := range policies {
			if ownUserAbroad(si) {
				break // the other tenant's policies: only its admins can act on them
			}
			switch {
			case deviceGrant(p):
				recs = append(recs, fmt.Sprintf("%q %s: an external user's device is registered in %s, so it can never be compliant or hybrid joined in the resource tenant unless that tenant trusts the home tenant's device claims. In Cross-tenant access settings > Inbound > Trust settings, add %s and enable \"Trust compliant devices\" / \"Trust Microsoft Entra hybrid joined devices\", or exclude guests from the device requirement (see \"Conditional Access for B2B collaboration users\").",
					policyName(p), grantPhrase(p), homeTenant(si), homeTenant(si)))
			case requiresMFA(p):
				recs = append(recs, fmt.Sprintf("%q %s: trust multifactor authentication from %s in Cross-tenant access settings > Inbound > Trust settings, or have the guest register MFA in the resource tenant.", policyName(p), grantPhrase(p), homeTenant(si)))
			case isBlockPolicy(p):
				recs = append(recs, fmt.Sprintf("%q blocks external users here: if that is intended, tell %s; if not, adjust its \"Guest or external users\" assignment or exclusions for %s.", policyName(p), who(si), app(si)))
			default:
				recs = append(recs, fmt.Sprintf("%q %s, which an external user may not be able to meet from their own organisation: review its assignment to guests and external users.", policyName(p), grantPhrase(p)))
			}
		}
		if !ownUserAbroad(si) {
			if len(policies) == 0 {
				recs = append(recs, "Review the Conditional Access policies that target \"Guest or external users\" (see \"Conditional Access for B2B collaboration users\").")
			}
			recs = append(recs, fmt.Sprintf("Run the Conditional Access What If tool for %s as a guest or external user, %s and IP %s to see which policies apply.", who(si), app(si), orUnknown(si.IPAddress)))
		} else {
			recs = append(recs, fmt.Sprintf("Give the resource organisation's administrators the correlation id %s and the time of the sign-in, so they can look it up in their own sign-in logs.", orUnknown(si.CorrelationID)))
		}
	}
	summary += " " + capitalize(failures48h(in)) + "." + entraSaid(si)
	f := newFinding(in, ScenarioB2BBlockedByConditionalAccess, schemas.SeverityMedium, "B2B sign-in blocked by Conditional Access", summary, recs)
	f.Policies = summaries(policies)
	return f, true
}

// ---- blocked_by_conditional_access ----

// blockedByConditionalAccess: error 53003 (or a failure whose failing
// policy has the Block grant control) not explained more specifically.
type blockedByConditionalAccess struct{ env }

func (blockedByConditionalAccess) Scenario() string { return ScenarioBlockedByConditionalAccess }

func (r blockedByConditionalAccess) Evaluate(in Input) (schemas.Finding, bool) {
	si := in.SignIn
	blocking, ok := caBlock(in)
	if !ok {
		return schemas.Finding{}, false
	}
	names := policyNames(blocking)
	policy := "a Conditional Access policy"
	if len(names) > 0 {
		policy = "Conditional Access " + noun(len(names), "policy", "policies") + " " + quoted(names)
	}
	code := si.Status.ErrorCode
	summary := fmt.Sprintf("The sign-in of %s to %s%s was blocked by %s (error %d).", who(si), appAndResource(si), from(si), policy, code)
	if code == 530032 {
		summary = fmt.Sprintf("The sign-in of %s to %s%s was blocked by a tenant-level security policy (error 530032).", who(si), appAndResource(si), from(si))
	}
	if len(blocking) > 0 {
		summary += " Policies that failed: " + describePolicies(blocking) + "."
	}
	if rp := riskPhrase(si); rp != "" {
		summary += " Identity Protection recorded " + rp + ", but the blocking policy does not act on risk."
	}
	summary += " " + capitalize(failures48h(in)) + "."

	target := "the blocking policy"
	if len(names) > 0 {
		target = quoted(names)
	}
	recs := []string{
		fmt.Sprintf("Review %s in Entra admin center > Protection > Conditional Access and confirm that blocking %s for %s under these conditions is intended.", target, who(si), app(si)),
		fmt.Sprintf("Run the Conditional Access What If tool for %s, %s, IP %s and platform %s to see which conditions matched.",
			who(si), app(si), orUnknown(si.IPAddress), orUnknown(si.DeviceDetail.OperatingSystem)),
		"If the block is not intended, adjust the policy's assignments or exclusions, and check the audit log for recent \"Add conditional access policy\" / \"Update conditional access policy\" changes.",
	}
	for _, p := range blocking {
		if satisfies(p, "location") {
			recs = append(recs, fmt.Sprintf("%q matched on location: if %s is travelling or the IP %s (%s) is the company's, add it to a named location or adjust the policy's location condition.",
				policyName(p), who(si), orUnknown(si.IPAddress), orUnknown(si.Location.CountryOrRegion)))
			break
		}
	}
	if code == 530032 {
		recs = append(recs, "Review the tenant-level security policies (e.g. security defaults, authentication methods or tenant restrictions) that apply to this sign-in.")
	}
	if isLegacyClient(si) {
		recs = append(recs, fmt.Sprintf("The client %q uses legacy authentication, which cannot do MFA: move it to modern authentication rather than excluding it from the policy.", si.ClientAppUsed))
	}
	if in.Failures48h >= r.cfg.RepeatedFailures {
		recs = append(recs, fmt.Sprintf("%s: if the attempts do not come from %s's usual devices and places, someone else may have the password.", capitalize(failures48h(in)), who(si)))
	}
	f := newFinding(in, ScenarioBlockedByConditionalAccess, schemas.SeverityMedium, "Blocked by Conditional Access", summary+entraSaid(si), recs)
	f.Policies = summaries(blocking)
	return f, true
}

// ---- failed_conditional_access ----

type failedConditionalAccess struct{ env }

func (failedConditionalAccess) Scenario() string { return ScenarioFailedConditionalAccess }

func (r failedConditionalAccess) Evaluate(in Input) (schemas.Finding, bool) {
	si := in.SignIn
	policies, ok := caGrantFailure(in)
	if !ok {
		return schemas.Finding{}, false
	}
	code := si.Status.ErrorCode
	meaning := ""
	if e, known := r.cat.Lookup(code); known {
		meaning = fmt.Sprintf(": %s, %s", e.Name, e.Meaning)
	}
	summary := fmt.Sprintf("The sign-in of %s to %s%s did not meet a Conditional Access grant control (error %d%s).",
		who(si), appAndResource(si), from(si), code, meaning)
	for _, p := range policies {
		summary += fmt.Sprintf(" Policy %q %s.", policyName(p), grantPhrase(p))
	}
	summary += fmt.Sprintf(" Device: %s. %s.", device(si), capitalize(failures48h(in)))

	var recs []string
	add := func(s string) {
		if !containsString(recs, s) {
			recs = append(recs, s)
		}
	}
	needs := map[string]bool{}
	for _, p := range policies {
		for _, c := range p.EnforcedGrantControls {
			needs[strings.ToLower(c)] = true
		}
	}
	switch {
	case code == 53000 || needs["requirecompliantdevice"]:
		if si.DeviceDetail.DeviceID == "" {
			add(fmt.Sprintf("The sign-in carried no device identity: enrol the device in Intune (Company Portal), or on a browser make sure it sends the device identity (Edge signed in with the work profile, the Microsoft Single Sign On extension for Chrome, %s).", orUnknown(si.DeviceDetail.Browser)))
		} else {
			add(fmt.Sprintf("Check device %s (%s) in Intune > Devices: fix the compliance settings it fails, or wait for compliance to be reported after enrolment, then sign in again.", orUnknown(si.DeviceDetail.DisplayName), si.DeviceDetail.DeviceID))
		}
	}
	switch {
	case code == 53001 || needs["requiredomainjoineddevice"]:
		add("Use a Microsoft Entra hybrid joined device, or check that this device is hybrid joined (dsregcmd /status: AzureAdJoined and DomainJoined = YES) and synchronised by Entra Connect.")
	}
	switch {
	case code == 53002 || code == 530021 || needs["requireapprovedapp"] || needs["requirecompliantapp"]:
		add(fmt.Sprintf("%s is not an approved client app (or has no app protection policy): use an approved app such as Outlook, Teams or Edge for mobile, signed in through the Authenticator app or Company Portal as broker.", app(si)))
	}
	switch code {
	case 50005:
		add(fmt.Sprintf("The platform %q is not supported by the policy's device platform condition: use a supported platform, or adjust the policy if this platform should be allowed.", orUnknown(si.DeviceDetail.OperatingSystem)))
	case 530003:
		add("The policy requires a managed device: register or enrol the device (Intune or hybrid join).")
	case 50129:
		add("The device must be workplace-joined (registered) first: register it in Settings > Accounts > Access work or school, or through Company Portal.")
	case 50155, 50187, 135011:
		add("The device failed to authenticate: check its device object in Entra (enabled, not stale), and re-register it (dsregcmd /leave then join, or re-enrol) if its certificate is broken.")
	case 50131:
		add("Inspect the applied policies' results and the device state below; error 50131 covers several device-state and policy decisions.")
	}
	if len(policies) > 0 {
		add(fmt.Sprintf("Review %s: it may be too strict. Check the complete set of users, groups and apps it targets and understand the implications of device restrictions before changing it (use the What If tool).", quoted(policyNames(policies))))
	} else {
		add("Review the Conditional Access policies with device or app grant controls that apply to this user and app (What If tool).")
	}
	severity := schemas.SeverityLow
	if in.Failures48h >= r.cfg.RepeatedFailures {
		severity = schemas.SeverityMedium
		add(fmt.Sprintf("%s: the user keeps retrying from a device that cannot pass; contact them before they give up or work around it.", capitalize(failures48h(in))))
	}
	if e, known := r.cat.Lookup(code); known && e.Remediation != "" {
		add(fmt.Sprintf("Error %d: %s.", code, e.Remediation))
	}
	f := newFinding(in, ScenarioFailedConditionalAccess, severity, "Conditional Access requirement not met", summary+entraSaid(si), recs)
	f.Policies = summaries(policies)
	return f, true
}

// ---- security_defaults ----

type securityDefaults struct{ env }

func (securityDefaults) Scenario() string { return ScenarioSecurityDefaults }

func (r securityDefaults) Evaluate(in Input) (schemas.Finding, bool) {
	si := in.SignIn
	code := si.Status.ErrorCode
	switch {
	case code == 530035:
		var summary string
		var recs []string
		if isLegacyClient(si) {
			summary = fmt.Sprintf("The sign-in of %s to %s%s was blocked by security defaults because the client %q uses legacy (basic) authentication, which security defaults block (error 530035).",
				who(si), appAndResource(si), from(si), si.ClientAppUsed)
			recs = append(recs,
				fmt.Sprintf("Move the device or app that uses %s (IP %s) to modern authentication.", si.ClientAppUsed, orUnknown(si.IPAddress)),
				legacyClientAdvice(si))
		} else {
			summary = fmt.Sprintf("The sign-in of %s to %s%s was blocked by security defaults, which judged the request unsafe (error 530035).",
				who(si), appAndResource(si), from(si))
			recs = append(recs, fmt.Sprintf("Have %s register MFA (https://aka.ms/mysecurityinfo) and sign in again with a modern-authentication client.", who(si)))
		}
		recs = append(recs, "Security defaults are all or nothing: if some users, apps or service accounts need a different treatment, replace security defaults with Conditional Access policies (Microsoft Entra ID P1) rather than turning protection off (see \"What are security defaults?\").")
		summary += " " + capitalize(failures48h(in)) + "."
		return newFinding(in, ScenarioSecurityDefaults, schemas.SeverityMedium, "Blocked by security defaults", summary+entraSaid(si), recs), true
	case proofUpCodes[code] && hasProvider(si, "mfaRegistrationRequiredBySecurityDefaults"):
		summary := fmt.Sprintf("%s was asked to register multifactor authentication by security defaults while signing in to %s%s (error %d, an interrupt): with security defaults every user must register the Microsoft Authenticator app within 14 days.",
			who(si), appAndResource(si), from(si), code)
		recs := []string{
			fmt.Sprintf("%s completes registration at https://aka.ms/mysecurityinfo (Microsoft Authenticator).", who(si)),
			"If the user cannot register (no smartphone), issue a Temporary Access Pass or move to Conditional Access, which allows other methods and exclusions.",
		}
		if !si.IsInteractive {
			recs = append(recs, fmt.Sprintf("This was a non-interactive sign-in of %s: the user must sign in interactively once to register; until then the app keeps failing silently.", app(si)))
		}
		return newFinding(in, ScenarioSecurityDefaults, schemas.SeverityInfo, "MFA registration required by security defaults", summary+entraSaid(si), recs), true
	}
	return schemas.Finding{}, false
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
