package rules

import (
	"fmt"

	"github.com/signindiag/signindiag/rules/catalog"
	"github.com/signindiag/signindiag/schemas"
)

// Credentials, enterprise-app, PTA, Seamless SSO and error-code rules
// (docs/scenarios.md rows 9–12, 14, 17, 18).

// ---- account_locked ----

// accountLocked: error 50053, smart lockout or a sign-in from an IP with
// malicious activity; the failure reason tells them apart.
type accountLocked struct{ env }

func (accountLocked) Scenario() string { return ScenarioAccountLocked }

func (r accountLocked) Evaluate(in Input) (schemas.Finding, bool) {
	si := in.SignIn
	if si.Status.ErrorCode != 50053 {
		return schemas.Finding{}, false
	}
	maliciousIP := containsFold(si.Status.FailureReason, "malicious")
	summary := fmt.Sprintf("The account %s was locked while signing in to %s%s (error 50053), after %s.",
		who(si), appAndResource(si), from(si), failures48h(in))
	if maliciousIP {
		summary += " Entra reports the source IP for malicious activity, not the user's own attempts."
	}
	if isLegacyClient(si) {
		summary += fmt.Sprintf(" The attempt came over the legacy protocol %s, which cannot do MFA.", si.ClientAppUsed)
	}
	recs := []string{
		fmt.Sprintf("Check with %s whether the %s came from them: compare the apps, devices and IP addresses of the recent failures.", who(si), plural(in.Failures48h, "failed attempt", "failed attempts")),
		"If the attempts are legitimate, the user waits for the lockout to expire (60 seconds by default, longer on repeats) or resets the password with self-service password reset, which also clears the lockout.",
		fmt.Sprintf("If they are not, block the source (IP %s) with a Conditional Access named-location policy, reset the password and review the user's recent sign-ins.", orUnknown(si.IPAddress)),
	}
	if isLegacyClient(si) {
		recs = append(recs, fmt.Sprintf("Lockouts over %s usually come from a device with an old stored password or from password spraying: update or remove the account on the device, and block legacy authentication with Conditional Access.", si.ClientAppUsed))
	}
	recs = append(recs, "Review smart lockout settings (threshold and duration) in Entra admin center > Protection > Authentication methods > Password protection.")
	severity := schemas.SeverityMedium
	if maliciousIP || in.Failures48h >= r.cfg.ManyFailures {
		severity = schemas.SeverityHigh
	}
	return newFinding(in, ScenarioAccountLocked, severity, "Account locked", summary+entraSaid(si), recs), true
}

// ---- invalid_credentials ----

// credentialCodes: the "Invalid username or password" scenario (docs/scenarios.md row 10):
// 50126 and its relatives 50056 (no password stored), 50064 (credential
// validation failed) and 50034 (user not found: a mistyped user name).
var credentialCodes = map[int]bool{50126: true, 50056: true, 50064: true, 50034: true}

// invalidCredentials: repeated failures from a non-browser client usually
// mean a cached old password.
type invalidCredentials struct{ env }

func (invalidCredentials) Scenario() string { return ScenarioInvalidCredentials }

func (r invalidCredentials) Evaluate(in Input) (schemas.Finding, bool) {
	si := in.SignIn
	code := si.Status.ErrorCode
	if !credentialCodes[code] {
		return schemas.Finding{}, false
	}
	what := "entered an invalid user name or password"
	switch code {
	case 50034:
		what = "signed in with a user name that does not exist in the directory"
		if si.SignInIdentifier != "" {
			what += fmt.Sprintf(" (%q)", si.SignInIdentifier)
		}
	case 50056:
		what = "signed in with a password, but no password is stored for the account"
	case 50064:
		what = "presented credentials that failed validation"
	}
	summary := fmt.Sprintf("%s %s signing in to %s%s (error %d); %s.",
		who(si), what, appAndResource(si), from(si), code, failures48h(in))
	if via := passwordValidatedBy(si); via == "PTA" {
		summary += " The password was checked on-premises by Pass-through Authentication."
	}
	if rp := riskPhrase(si); rp != "" {
		summary += " Identity Protection recorded " + rp + "."
	}
	var recs []string
	cachedPassword := in.Failures48h >= r.cfg.RepeatedFailures && (!si.IsInteractive || isLegacyClient(si) ||
		(si.ClientAppUsed != "" && !isBrowser(si)))
	if cachedPassword {
		recs = append(recs,
			fmt.Sprintf("Repeated failures from the client %q suggest an app or device that stored an old password: update the password saved for %s on that device or app (IP %s).", orUnknown(si.ClientAppUsed), app(si), orUnknown(si.IPAddress)))
	}
	switch code {
	case 50034:
		recs = append(recs, "Check the spelling of the user name (UPN or e-mail); if the person is external, invite them as a guest; if the account was deleted, restore it or remove the stale account from the device.")
	case 50056:
		recs = append(recs, "Set a password for the account or check how it should sign in (passwordless, federation, password hash sync of the on-premises account).")
	default:
		recs = append(recs, "If the user mistyped, they retry; if they forgot the password, they reset it with self-service password reset.")
	}
	recs = append(recs, "If the user did not make these attempts, treat them as a password-guessing attack: check the source IPs and require MFA for this user.")
	if isLegacyClient(si) {
		recs = append(recs, fmt.Sprintf("The client %q uses legacy authentication: block legacy authentication with Conditional Access and move the client to modern authentication.", si.ClientAppUsed))
	}
	if passwordValidatedBy(si) == "PTA" {
		recs = append(recs, "With Pass-through Authentication the password is the on-premises AD one: check that it was not changed or expired on-premises, and that the account is not locked in AD.")
	}
	severity := schemas.SeverityLow
	switch {
	case in.Failures48h >= r.cfg.ManyFailures:
		severity = schemas.SeverityHigh
	case in.Failures48h >= r.cfg.RepeatedFailures:
		severity = schemas.SeverityMedium
	}
	title := "Invalid username or password"
	if code == 50034 {
		title = "Unknown user name"
	}
	return newFinding(in, ScenarioInvalidCredentials, severity, title, summary, recs), true
}

// ---- enterprise apps ----

// appConfigurationCodes: failures caused by the app's configuration in
// Entra (docs/scenarios.md row 12), plus the permission and consent codes of the same kind
// (65005 when not SAML, 650056, 650057, 50001, 650052). Client credential
// errors of workloads (7000215, 7000222, …) are the client's own secret
// or certificate, not the enterprise app's configuration: error_code_insight.
var appConfigurationCodes = map[int]bool{50105: true, 50011: true, 50003: true, 50146: true, 501241: true,
	700016: true, 70001: true, 7000112: true, 500011: true, 65001: true, 90094: true,
	65005: true, 650056: true, 650057: true, 50001: true, 650052: true}

// serviceProviderCodes: the SaaS application sent something wrong (docs/scenarios.md row 11);
// the catalogue's category "app configuration (SP)" adds any code a site
// override puts in that category.
var serviceProviderCodes = map[int]bool{75005: true, 750054: true, 75011: true, 75008: true, 75016: true,
	76021: true, 76026: true, 7500514: true}

func isSAML(si *schemas.SignIn) bool {
	return eqAny(si.AuthenticationProtocol, "saml20", "saml", "wsFederation") ||
		containsFold(si.Status.FailureReason, "SAML") || containsFold(si.Status.AdditionalDetails, "SAML")
}

type appServiceProvider struct{ env }

func (appServiceProvider) Scenario() string { return ScenarioAppServiceProvider }

func (r appServiceProvider) Evaluate(in Input) (schemas.Finding, bool) {
	si := in.SignIn
	code := si.Status.ErrorCode
	entry, known := r.cat.Lookup(code)
	sp := serviceProviderCodes[code] || (known && entry.Category == "app configuration (SP)") || (code == 65005 && isSAML(si))
	if !sp {
		return schemas.Finding{}, false
	}
	summary := fmt.Sprintf("The sign-in of %s to %s%s failed because of what the application (the service provider) sent to Entra (error %d%s).",
		who(si), appAndResource(si), from(si), code, codeMeaning(entry, known))
	recs := []string{fmt.Sprintf("The fix is on the application's side: sign in to %s's administration and change its single sign-on (SAML) configuration as described below.", app(si))}
	switch code {
	case 75005, 750054:
		recs = append(recs, "The SAML request is malformed or missing: check the SP's SSO URL and binding (HTTP-Redirect with a SAMLRequest parameter, or HTTP-POST) and that it sends a SAML 2.0 AuthnRequest.")
	case 75011:
		recs = append(recs, "The SP's RequestedAuthnContext asks for an authentication method the user did not use (e.g. password when the user signed in with Windows Integrated or MFA): remove RequestedAuthnContext or set Comparison=\"minimum\" on the SP.")
	case 75008:
		recs = append(recs, "The request's Destination does not match Entra's SAML endpoint: set the SP's identity provider SSO URL to the Login URL shown in the enterprise app's SAML configuration.")
	case 75016:
		recs = append(recs, "The SP asks for a NameID format Entra does not send: align the SP's NameIDPolicy Format with the Unique User Identifier (Name ID) format configured in Entra, or remove it.")
	case 76021:
		recs = append(recs, "The enterprise app requires signed authentication requests: configure the SP to sign its AuthnRequests with the certificate registered in Entra, or turn the requirement off.")
	case 76026:
		recs = append(recs, "The request's IssueInstant is too old: fix the SP server's clock, and make sure it does not replay a cached request.")
	case 7500514:
		recs = append(recs, "The SP sent a SAML message type Entra does not support: check that it sends an AuthnRequest (not a response) to the SSO endpoint.")
	case 65005:
		recs = append(recs, "The Identifier (Entity ID) the SP sends does not match the one configured in the enterprise app: make both the same.")
	}
	if known && entry.Remediation != "" {
		recs = append(recs, fmt.Sprintf("Catalogue remediation for %d: %s.", code, entry.Remediation))
	}
	severity := schemas.SeverityLow
	if in.Failures48h >= r.cfg.RepeatedFailures {
		severity = schemas.SeverityMedium
	}
	summary += " " + capitalize(failures48h(in)) + "."
	return newFinding(in, ScenarioAppServiceProvider, severity, "Application (service provider) misconfigured", summary+entraSaid(si), recs), true
}

type appConfiguration struct{ env }

func (appConfiguration) Scenario() string { return ScenarioAppConfiguration }

func (r appConfiguration) Evaluate(in Input) (schemas.Finding, bool) {
	si := in.SignIn
	code := si.Status.ErrorCode
	if !appConfigurationCodes[code] {
		return schemas.Finding{}, false
	}
	entry, known := r.cat.Lookup(code)
	summary := fmt.Sprintf("The sign-in of %s to %s%s failed because of the application's configuration in Microsoft Entra ID (error %d%s).",
		who(si), appAndResource(si), from(si), code, codeMeaning(entry, known))
	appRef := app(si)
	if si.AppID != "" && si.AppDisplayName != "" {
		appRef += " (app id " + si.AppID + ")"
	}
	var recs []string
	switch code {
	case 50105:
		recs = append(recs, fmt.Sprintf("%s is not assigned to %s: in Enterprise applications > %s > Users and groups, assign the user or a group they belong to, or set \"Assignment required?\" to No if everyone may use it.", who(si), appRef, app(si)))
	case 50011:
		recs = append(recs, fmt.Sprintf("The reply (redirect) URL the app sent is not registered for %s: add the exact URL shown in the error details to App registrations > Authentication > Redirect URIs (scheme, host, path and trailing slash must match).", appRef))
	case 50003, 50146:
		recs = append(recs, fmt.Sprintf("%s has no valid SAML signing certificate: in Enterprise applications > Single sign-on, create or renew the signing certificate, make it active, and give the new certificate to the service provider.", appRef))
	case 501241:
		recs = append(recs, "The attribute used as the Unique User Identifier (Name ID) is empty for this user: pick a source attribute the user has in Single sign-on > Attributes & Claims, or fill it in on the user.")
	case 700016:
		recs = append(recs, fmt.Sprintf("No application with id %s exists in this tenant: check the client id and tenant the app uses, or install (consent to) the multi-tenant app in this tenant.", orUnknown(si.AppID)))
	case 70001, 7000112:
		recs = append(recs, fmt.Sprintf("%s is disabled or missing in this tenant: in Enterprise applications, set \"Enabled for users to sign in?\" to Yes, or install the app.", appRef))
	case 500011:
		recs = append(recs, fmt.Sprintf("The resource %s has no service principal in this tenant: the resource app must be installed (admin consent) here, or the client asks the wrong tenant.", orUnknown(si.ResourceDisplayName)))
	case 65001, 90094:
		recs = append(recs, fmt.Sprintf("Nobody has consented to the permissions %s asks for: an administrator grants admin consent (Enterprise applications > %s > Permissions), or enable the admin consent workflow so that %s can request it.", appRef, app(si), who(si)))
	case 65005, 650056, 650057:
		recs = append(recs, fmt.Sprintf("The permissions %s requests are not configured: add the resource and permissions under App registrations > API permissions and grant admin consent.", appRef))
	case 50001:
		recs = append(recs, "The resource the app asked for is disabled or does not exist: correct the resource URL / scope the app requests, or enable the resource.")
	case 650052:
		recs = append(recs, "The app needs a service this organisation has not enabled or subscribed to: enable the service or remove the permission from the app.")
	}
	if known && entry.Remediation != "" {
		recs = append(recs, fmt.Sprintf("Catalogue remediation for %d: %s.", code, entry.Remediation))
	}
	severity := schemas.SeverityLow
	if isServicePrincipal(si) || in.Failures48h >= r.cfg.RepeatedFailures {
		severity = schemas.SeverityMedium
	}
	summary += " " + capitalize(failures48h(in)) + "."
	return newFinding(in, ScenarioAppConfiguration, severity, "Application configuration problem", summary+entraSaid(si), recs), true
}

func codeMeaning(e catalog.Code, known bool) string {
	if !known {
		return ""
	}
	return fmt.Sprintf(": %s, %s", e.Name, e.Meaning)
}

// ---- pass_through_authentication ----

var ptaCodes = map[int]bool{80001: true, 80002: true, 80005: true, 80007: true, 80010: true,
	80011: true, 80012: true, 80013: true, 80014: true}

type passThroughAuthentication struct{ env }

func (passThroughAuthentication) Scenario() string { return ScenarioPassThroughAuthentication }

func (r passThroughAuthentication) Evaluate(in Input) (schemas.Finding, bool) {
	si := in.SignIn
	code := si.Status.ErrorCode
	entry, known := r.cat.Lookup(code)
	if !ptaCodes[code] && !(known && entry.Category == "other (PTA)") {
		return schemas.Finding{}, false
	}
	summary := fmt.Sprintf("The sign-in of %s to %s%s failed in Pass-through Authentication, while the on-premises agent validated the password against Active Directory (error %d%s). %s.",
		who(si), appAndResource(si), from(si), code, codeMeaning(entry, known), capitalize(failures48h(in)))
	severity := schemas.SeverityHigh // agent-side problems fail every PTA user
	var recs []string
	switch code {
	case 80001:
		recs = append(recs, "The authentication agent cannot reach Active Directory: check the agent servers' connectivity to domain controllers of the user's forest, and that the agent runs in a domain-joined server of that forest.")
	case 80002, 80005, 80014:
		severity = schemas.SeverityMedium
		recs = append(recs, "The agent timed out or hit a transient error: check the load and responsiveness of the agents and domain controllers, and that several agents are installed for redundancy; open a support case with the correlation id if it persists.")
	case 80007:
		recs = append(recs, "The agent could not validate the password: read the agent's event log (Applications and Services Logs > Microsoft > AzureAdConnect > AuthenticationAgent) for the AD error.")
	case 80010, 80011:
		recs = append(recs, "The agent cannot decrypt the password or retrieve its key: repair or re-register the authentication agent (reinstall it) and check its certificate.")
	case 80012:
		severity = schemas.SeverityLow
		recs = append(recs, fmt.Sprintf("%s tried to sign in outside the logon hours allowed in Active Directory: they sign in within the allowed hours, or an AD admin changes the account's logon hours.", who(si)))
	case 80013:
		recs = append(recs, "The agent server's clock is skewed from the domain controllers: fix time synchronisation (w32time) on the agent server.")
	}
	recs = append(recs, "Check agent health in Entra admin center > Entra Connect > Connect Sync > Pass-through authentication, and follow \"Troubleshoot Pass-through Authentication\".")
	if known && entry.Remediation != "" {
		recs = append(recs, fmt.Sprintf("Catalogue remediation for %d: %s.", code, entry.Remediation))
	}
	return newFinding(in, ScenarioPassThroughAuthentication, severity, "Pass-through Authentication failure", summary+entraSaid(si), recs), true
}

// ---- seamless_sso ----

var seamlessSSOCodes = map[int]bool{81001: true, 81004: true, 81005: true, 81006: true, 81007: true,
	81009: true, 81010: true, 81011: true, 50180: true}

type seamlessSSO struct{ env }

func (seamlessSSO) Scenario() string { return ScenarioSeamlessSSO }

func (r seamlessSSO) Evaluate(in Input) (schemas.Finding, bool) {
	si := in.SignIn
	code := si.Status.ErrorCode
	if !seamlessSSOCodes[code] {
		return schemas.Finding{}, false
	}
	entry, known := r.cat.Lookup(code)
	summary := fmt.Sprintf("Seamless single sign-on (desktop SSO with Kerberos) did not sign %s in to %s%s (error %d%s); the user is usually asked for a password instead. %s.",
		who(si), appAndResource(si), from(si), code, codeMeaning(entry, known), capitalize(failures48h(in)))
	var recs []string
	switch code {
	case 81001:
		recs = append(recs, fmt.Sprintf("%s's Kerberos ticket is too large (too many group memberships): reduce the user's group memberships.", who(si)))
	case 81004, 81010:
		recs = append(recs, "The Kerberos ticket was not valid: have the user refresh it (klist purge, or sign out and in to Windows) and check that the AZUREADSSOACC computer account's decryption key was rolled over recently.")
	case 81005:
		recs = append(recs, "The browser offered an authentication package other than Kerberos (e.g. NTLM): make sure the device can reach a domain controller and the browser is set up for Kerberos.")
	case 81006, 81009:
		recs = append(recs, "The browser sent no valid Kerberos authorization header: add https://autologon.microsoftazuread-sso.com to the browser's Intranet zone (Group Policy) and check the browser settings.")
	case 81007, 50180:
		recs = append(recs, "Seamless SSO is not enabled for this tenant: enable it in Microsoft Entra Connect, or stop relying on it.")
	case 81011:
		recs = append(recs, fmt.Sprintf("Entra could not find %s by the SID in the ticket: check that the on-premises account is synchronised (onPremisesSecurityIdentifier present).", who(si)))
	}
	recs = append(recs, "Follow \"Troubleshoot Seamless single sign-on\": check that the signed-in Windows user is the one signing in, that the device is domain-joined and on the corporate network, and the tenant's Seamless SSO status.")
	return newFinding(in, ScenarioSeamlessSSO, schemas.SeverityLow, "Seamless single sign-on failed", summary+entraSaid(si), recs), true
}

// ---- error_code_insight ----

// errorCodeInsight is the fallback for failures no contextual rule
// explains: the catalogue's meaning and remediation for the code, or what
// Entra sent for a code the catalogue does not know. A flagged sign-in
// (the user asked for help) with an interrupt, benign or service code gets
// the same explanation.
type errorCodeInsight struct{ env }

func (errorCodeInsight) Scenario() string { return ScenarioErrorCodeInsight }

func (r errorCodeInsight) Evaluate(in Input) (schemas.Finding, bool) {
	si := in.SignIn
	code := si.Status.ErrorCode
	if !in.IsFailure && !(si.FlaggedForReview && code != 0) {
		return schemas.Finding{}, false
	}
	entry, known := r.cat.Lookup(code)
	var summary string
	var recs []string
	severity := schemas.SeverityLow
	verb := "failed with"
	if !in.IsFailure {
		verb = "was interrupted with"
		severity = schemas.SeverityInfo
	}
	if known {
		summary = fmt.Sprintf("The sign-in of %s to %s%s %s error %d (%s: %s).",
			who(si), appAndResource(si), from(si), verb, code, entry.Name, entry.Meaning)
		if entry.Remediation != "" {
			recs = append(recs, entry.Remediation+".")
		}
		recs = append(recs, insightAdvice(in, entry)...)
	} else {
		summary = fmt.Sprintf("The sign-in of %s to %s%s failed with error %d, which the catalogue does not know.",
			who(si), appAndResource(si), from(si), code)
		recs = append(recs, "Read the error code's page and the failure reason Entra sent; extend the catalogue with SIGNINDIAG_RULES_FILE once the cause is known.")
	}
	if in.IsFailure {
		summary += " " + capitalize(failures48h(in)) + "."
	}
	if rp := riskPhrase(si); rp != "" {
		summary += " Identity Protection recorded " + rp + "."
	}
	if si.FlaggedForReview {
		summary += fmt.Sprintf(" %s flagged this sign-in for review.", who(si))
	}
	summary += entraSaid(si)
	recs = append(recs, fmt.Sprintf("Error code reference: %s", catalog.ErrorPage(code)))
	return newFinding(in, ScenarioErrorCodeInsight, severity,
		fmt.Sprintf("Error code insight: %d", code), summary, recs), true
}

// insightAdvice adds case-specific advice to the catalogue's line.
func insightAdvice(in Input, e catalog.Code) []string {
	si := in.SignIn
	var out []string
	switch e.Code {
	case 50155, 50187, 135011:
		out = append(out, fmt.Sprintf("No Conditional Access policy was involved (status %s): the device itself failed to authenticate. Check its device object in Entra (enabled, not stale) and re-register it (dsregcmd /leave, then join or re-enrol) if its certificate is broken.", orUnknown(si.ConditionalAccessStatus)))
	case 50057:
		out = append(out, fmt.Sprintf("If %s left the organisation, attempts on a disabled account (from IP %s) deserve a look: someone may be trying old credentials.", who(si), orUnknown(si.IPAddress)))
	case 50055, 50144:
		out = append(out, fmt.Sprintf("%s changes the password (self-service password reset%s).", who(si), map[bool]string{true: " with password writeback for on-premises accounts", false: ""}[e.Code == 50144]))
	case 90072:
		out = append(out, fmt.Sprintf("%s's account could not satisfy this tenant's MFA: if they come from another organisation, add them as an external (guest) user; if they are a synchronised member, check that their sourceAnchor/ImmutableID matches.", who(si)))
	case 7000215, 7000222, 7000218, 700027, 70002:
		out = append(out, fmt.Sprintf("The workload %s authenticated with a bad or expired credential: update the secret or certificate it uses (App registrations > Certificates & secrets), preferably with a certificate or a managed identity.", who(si)))
	}
	if isLegacyClient(si) {
		out = append(out, fmt.Sprintf("The client %q uses legacy authentication: consider blocking it with Conditional Access.", si.ClientAppUsed))
	}
	return out
}
