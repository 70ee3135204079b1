package rules

import (
	"slices"
	"strconv"
	"strings"

	"github.com/signindiag/signindiag/schemas"
)

// Facts the rules read off a sign-in. Entra's enum values are open strings
// whose casing differs between Graph, Event Hubs and Log Analytics, so every
// comparison here is case-insensitive.

func eq(a, b string) bool { return strings.EqualFold(strings.TrimSpace(a), b) }

func eqAny(a string, bs ...string) bool {
	for _, b := range bs {
		if eq(a, b) {
			return true
		}
	}
	return false
}

// containsFold is a case-insensitive strings.Contains that does not
// allocate (the needles are ASCII).
func containsFold(s, sub string) bool {
	n := len(sub)
	if n == 0 {
		return true
	}
	first := lowerASCII(sub[0])
	for i := 0; i+n <= len(s); i++ {
		if lowerASCII(s[i]) == first && strings.EqualFold(s[i:i+n], sub) {
			return true
		}
	}
	return false
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// ---- Conditional Access policies ----

// conditionBits are the conditionalAccessConditions flags in bit order,
// for records that still send conditionsSatisfied as an integer.
var conditionBits = []string{
	"application", "users", "devicePlatform", "location", "clientType",
	"signInRisk", "userRisk", "time", "deviceState", "client",
	"ipAddressSeenByAzureAD", "ipAddressSeenByResourceProvider",
	"servicePrincipals", "servicePrincipalRisk", "authenticationFlows", "insiderRisk",
}

// conditionSet reads a conditionsSatisfied value: a comma list
// ("application,users") or, in old records, an integer bit set.
func conditionSet(v string) map[string]bool {
	out := map[string]bool{}
	v = strings.TrimSpace(v)
	if v == "" {
		return out
	}
	if n, err := strconv.Atoi(v); err == nil {
		for i, name := range conditionBits {
			if n&(1<<i) != 0 {
				out[strings.ToLower(name)] = true
			}
		}
		return out
	}
	for _, part := range strings.Split(v, ",") {
		if p := strings.ToLower(strings.TrimSpace(part)); p != "" && p != "none" {
			out[p] = true
		}
	}
	return out
}

// satisfies reports whether the policy matched on a condition, from
// conditionsSatisfied or from its include rules.
func satisfies(p schemas.AppliedPolicy, condition string) bool {
	if conditionSet(p.ConditionsSatisfied)[strings.ToLower(condition)] {
		return true
	}
	for _, r := range p.IncludeRulesSatisfied {
		if eq(r.ConditionalAccessCondition, condition) {
			return true
		}
	}
	return false
}

func policyName(p schemas.AppliedPolicy) string {
	switch {
	case p.DisplayName != "":
		return p.DisplayName
	case p.ID != "":
		return p.ID
	}
	return "(unnamed policy)"
}

func quoted(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return joinAnd(q)
}

func joinAnd(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	case 2:
		return items[0] + " and " + items[1]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

func policyNames(ps []schemas.AppliedPolicy) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = policyName(p)
	}
	return out
}

func hasControl(p schemas.AppliedPolicy, controls ...string) bool {
	for _, c := range p.EnforcedGrantControls {
		if eqAny(c, controls...) {
			return true
		}
	}
	return false
}

func isBlockPolicy(p schemas.AppliedPolicy) bool { return hasControl(p, "Block") }

// requiresMFA: the policy's grant asks for MFA, directly or through an
// authentication strength.
func requiresMFA(p schemas.AppliedPolicy) bool {
	return hasControl(p, "Mfa", "RequireMultifactorAuthentication", "RequireAuthenticationStrength") ||
		(p.AuthenticationStrength != nil && (p.AuthenticationStrength.DisplayName != "" || p.AuthenticationStrength.AuthenticationStrengthID != ""))
}

// nonMFAGrant: the policy requires something other than MFA or a block
// (a compliant or joined device, an approved app, terms of use, …).
func nonMFAGrant(p schemas.AppliedPolicy) bool {
	for _, c := range p.EnforcedGrantControls {
		if !eqAny(c, "Block", "Mfa", "RequireMultifactorAuthentication", "RequireAuthenticationStrength") && strings.TrimSpace(c) != "" {
			return true
		}
	}
	return false
}

// failedPolicies are the applied policies whose result is failure.
func failedPolicies(si *schemas.SignIn) []schemas.AppliedPolicy {
	var out []schemas.AppliedPolicy
	for _, p := range si.AppliedConditionalAccessPolicies {
		if eq(p.Result, "failure") {
			out = append(out, p)
		}
	}
	return out
}

func filterPolicies(ps []schemas.AppliedPolicy, keep func(schemas.AppliedPolicy) bool) []schemas.AppliedPolicy {
	var out []schemas.AppliedPolicy
	for _, p := range ps {
		if keep(p) {
			out = append(out, p)
		}
	}
	return out
}

// summaries turns policies into the finding's Policies field.
func summaries(ps []schemas.AppliedPolicy) []schemas.PolicySummary {
	if len(ps) == 0 {
		return nil
	}
	out := make([]schemas.PolicySummary, len(ps))
	for i, p := range ps {
		controls := slices.Clone(p.EnforcedGrantControls)
		if p.AuthenticationStrength != nil && p.AuthenticationStrength.DisplayName != "" {
			controls = append(controls, "authentication strength: "+p.AuthenticationStrength.DisplayName)
		}
		out[i] = schemas.PolicySummary{ID: p.ID, DisplayName: policyName(p), Result: p.Result,
			GrantControls: controls, ConditionsSatisfied: p.ConditionsSatisfied}
	}
	return out
}

// describePolicies phrases policies for a summary:
// "Block legacy" (result: failure, grant controls: Block; matched on: application, users, clientType).
func describePolicies(ps []schemas.AppliedPolicy) string {
	var parts []string
	for _, p := range ps {
		d := strconv.Quote(policyName(p)) + " (result: " + orUnknown(p.Result)
		if len(p.EnforcedGrantControls) > 0 {
			d += ", grant controls: " + strings.Join(p.EnforcedGrantControls, ", ")
		}
		if p.AuthenticationStrength != nil && p.AuthenticationStrength.DisplayName != "" {
			d += ", authentication strength: " + p.AuthenticationStrength.DisplayName
		}
		if cs := conditionList(p.ConditionsSatisfied); cs != "" {
			d += "; matched on: " + cs
		}
		parts = append(parts, d+")")
	}
	return strings.Join(parts, "; ")
}

// conditionList renders conditionsSatisfied readably, expanding bit sets.
func conditionList(v string) string {
	set := conditionSet(v)
	var names []string
	for _, name := range conditionBits {
		if set[strings.ToLower(name)] {
			names = append(names, name)
			delete(set, strings.ToLower(name))
		}
	}
	var rest []string
	for name := range set {
		rest = append(rest, name)
	}
	slices.Sort(rest)
	return strings.Join(append(names, rest...), ", ")
}

// grantPhrase says in words what a policy's grant controls require.
func grantPhrase(p schemas.AppliedPolicy) string {
	var parts []string
	for _, c := range p.EnforcedGrantControls {
		switch strings.ToLower(strings.TrimSpace(c)) {
		case "block":
			parts = append(parts, "blocks access")
		case "mfa", "requiremultifactorauthentication":
			parts = append(parts, "requires multifactor authentication")
		case "requirecompliantdevice":
			parts = append(parts, "requires a device marked compliant by Intune")
		case "requiredomainjoineddevice":
			parts = append(parts, "requires a Microsoft Entra hybrid joined device")
		case "requireapprovedapp":
			parts = append(parts, "requires an approved client app")
		case "requirecompliantapp":
			parts = append(parts, "requires an app protection policy")
		case "passwordchange", "requirepasswordchange":
			parts = append(parts, "requires a password change")
		case "":
		default:
			parts = append(parts, "requires "+strconv.Quote(c))
		}
	}
	if p.AuthenticationStrength != nil && p.AuthenticationStrength.DisplayName != "" {
		parts = append(parts, "requires the authentication strength "+strconv.Quote(p.AuthenticationStrength.DisplayName))
	}
	if len(parts) == 0 {
		return "applies controls"
	}
	return joinAnd(parts)
}

// ---- risk ----

var riskConditions = []string{"signInRisk", "userRisk", "servicePrincipalRisk", "insiderRisk"}

// riskConditionsOf lists the risk conditions a policy matched on.
func riskConditionsOf(p schemas.AppliedPolicy) []string {
	var out []string
	for _, c := range riskConditions {
		if satisfies(p, c) {
			out = append(out, c)
		}
	}
	return out
}

// riskRank orders risk levels: 0 none/hidden/unknown, 1 low, 2 medium, 3 high.
func riskRank(level string) int {
	switch strings.ToLower(strings.TrimSpace(level)) {
	case "low":
		return 1
	case "medium":
		return 2
	case "high":
		return 3
	}
	return 0
}

// signInRiskRank is the higher of the two risk levels Entra records.
func signInRiskRank(si *schemas.SignIn) int {
	return max(riskRank(si.RiskLevelDuringSignIn), riskRank(si.RiskLevelAggregated))
}

func riskLevelName(rank int) string {
	return [...]string{"none", "low", "medium", "high"}[rank]
}

// riskClosed: an admin or Entra has dealt with the risk.
func riskClosed(si *schemas.SignIn) bool {
	return eqAny(si.RiskState, "dismissed", "remediated", "confirmedSafe")
}

func riskOpen(si *schemas.SignIn) bool {
	return eqAny(si.RiskState, "atRisk", "confirmedCompromised")
}

func riskEvents(si *schemas.SignIn) []string {
	if len(si.RiskEventTypesV2) > 0 {
		return si.RiskEventTypesV2
	}
	return si.RiskEventTypes
}

// riskPhrase: "risk high during sign-in, aggregated medium, state atRisk,
// detections unfamiliarFeatures, anonymizedIPAddress", or "" if no risk.
func riskPhrase(si *schemas.SignIn) string {
	var parts []string
	if r := riskRank(si.RiskLevelDuringSignIn); r > 0 {
		parts = append(parts, "risk "+riskLevelName(r)+" during sign-in")
	}
	if r := riskRank(si.RiskLevelAggregated); r > 0 {
		parts = append(parts, "aggregated user risk "+riskLevelName(r))
	}
	if si.RiskState != "" && !eq(si.RiskState, "none") {
		parts = append(parts, "risk state "+si.RiskState)
	}
	if ev := riskEvents(si); len(ev) > 0 {
		parts = append(parts, "detections "+strings.Join(ev, ", "))
	}
	return strings.Join(parts, ", ")
}

// ---- MFA requirement providers ----

var caProviders = []string{"multiConditionalAccess", "v1ConditionalAccess", "v1ConditionalAccessDependency",
	"v1ConditionalAccessPolicyIdRequested", "authenticationStrengths"}

var proofUpProviders = []string{"mfaRegistrationRequiredByMultiConditionalAccess", "mfaRegistrationRequiredBySecurityDefaults",
	"mfaRegistrationRequiredByIdentityProtectionPolicy", "mfaRegistrationRequiredByBaselineProtection", "proofUpCodeRequest"}

func providers(si *schemas.SignIn) []string {
	var out []string
	for _, p := range si.AuthenticationRequirementPolicies {
		if v := strings.TrimSpace(p.RequirementProvider); v != "" && !slices.ContainsFunc(out, func(o string) bool { return eq(o, v) }) {
			out = append(out, v)
		}
	}
	return out
}

func hasProvider(si *schemas.SignIn, names ...string) bool {
	for _, p := range providers(si) {
		if eqAny(p, names...) {
			return true
		}
	}
	return false
}

func isCAProvider(p string) bool      { return eqAny(p, caProviders...) }
func isProofUpProvider(p string) bool { return eqAny(p, proofUpProviders...) }

// otherProviders are the MFA requirement providers that are neither
// Conditional Access nor registration.
func otherProviders(si *schemas.SignIn) []string {
	var out []string
	for _, p := range providers(si) {
		if !isCAProvider(p) && !isProofUpProvider(p) {
			out = append(out, p)
		}
	}
	return out
}

// providerPhrase names what asked for MFA, for an admin.
func providerPhrase(p string) string {
	switch strings.ToLower(p) {
	case "user":
		return "per-user MFA (the user's legacy per-user MFA state is Enforced or Enabled)"
	case "securitydefaults":
		return "security defaults"
	case "request":
		return "the application's request (it asked for MFA itself, e.g. with an acr/amr claim or a prompt)"
	case "serviceprincipal":
		return "the service principal's settings"
	case "tenantsessionriskpolicy":
		return "the tenant's session risk policy (Identity Protection)"
	case "accountcompromisepolicies":
		return "the account compromise policies (Identity Protection)"
	case "riskbasedpolicy":
		return "a risk-based Identity Protection policy"
	case "baselineprotection":
		return "a baseline protection policy"
	case "enforcedforcspadmins":
		return "MFA enforced for partner (CSP) administrators"
	case "crosstenantoutboundrule":
		return "a cross-tenant outbound rule"
	case "gpslocationcondition":
		return "a GPS-based named location condition"
	case "scopebasedauthrequirementpolicy":
		return "a scope-based authentication requirement"
	case "multiconditionalaccess", "v1conditionalaccess", "v1conditionalaccessdependency", "v1conditionalaccesspolicyidrequested":
		return "Conditional Access"
	case "authenticationstrengths":
		return "a Conditional Access authentication strength"
	case "mfaregistrationrequiredbymulticonditionalaccess":
		return "a Conditional Access policy requiring MFA registration"
	case "mfaregistrationrequiredbysecuritydefaults":
		return "security defaults (MFA registration within 14 days)"
	case "mfaregistrationrequiredbyidentityprotectionpolicy":
		return "the Identity Protection MFA registration policy"
	case "mfaregistrationrequiredbybaselineprotection":
		return "a baseline protection policy requiring MFA registration"
	case "proofupcoderequest":
		return "a security-info (proof-up) request"
	}
	return strconv.Quote(p)
}

// mfaStepRequirementMentionsCA: old records (and Log Analytics exports)
// name the requirement in authenticationDetails, e.g.
// authenticationStepRequirement "MultiConditionalAccess".
func mfaStepRequirementMentionsCA(si *schemas.SignIn) bool {
	for _, d := range si.AuthenticationDetails {
		if containsFold(d.AuthenticationStepRequirement, "conditionalaccess") {
			return true
		}
	}
	return false
}

// mfaEvidence: something in the record says MFA was involved.
func mfaEvidence(si *schemas.SignIn) bool {
	if eq(si.AuthenticationRequirement, "multiFactorAuthentication") || containsFold(si.Status.AdditionalDetails, "MFA") {
		return true
	}
	for _, d := range si.AuthenticationDetails {
		if containsFold(d.AuthenticationStepRequirement, "multi") || containsFold(d.AuthenticationStepResultDetail, "MFA") {
			return true
		}
	}
	return false
}

func singleFactor(si *schemas.SignIn) bool {
	return !eq(si.AuthenticationRequirement, "multiFactorAuthentication")
}

// ---- clients and protocols ----

// legacyClients are the clientAppUsed values of basic-auth protocols, which
// cannot do MFA (docs/scenarios.md row 15; Elastic E8's list; "Outlook Anywhere"
// appears both with and without its suffix; Sigma G16's short forms).
var legacyClients = []string{
	"Exchange ActiveSync", "IMAP4", "IMAP", "POP3", "Authenticated SMTP", "SMTP",
	"MAPI over HTTP", "MAPI", "Autodiscover", "Exchange Online PowerShell",
	"Exchange Web Services", "Offline Address Book",
	"Outlook Anywhere (RPC over HTTP)", "Outlook Anywhere", "Outlook Service",
	"Reporting Web Services", "Other clients", "Other client",
}

func isLegacyClient(si *schemas.SignIn) bool {
	return si.ClientAppUsed != "" && eqAny(si.ClientAppUsed, legacyClients...)
}

// basicAuthUserAgents are the user agents Exchange Online sends when it
// turns a basic-auth request into ROPC (Sigma G8 uses "contains", Panther
// P3 "equals", with CBAInPROD / CBAinPROD spellings).
var basicAuthUserAgents = []string{"BAV2ROPC", "CBAinPROD", "CBAinTAR"}

func basicAuthUserAgent(si *schemas.SignIn) string {
	for _, ua := range basicAuthUserAgents {
		if containsFold(si.UserAgent, ua) {
			return ua
		}
	}
	return ""
}

func isROPC(si *schemas.SignIn) bool { return eq(si.AuthenticationProtocol, "ropc") }

func isBrowser(si *schemas.SignIn) bool { return eq(si.ClientAppUsed, "Browser") }

// ---- identities and tenants ----

func isServicePrincipal(si *schemas.SignIn) bool {
	return (si.UserID == "" && si.UserPrincipalName == "" && si.ServicePrincipalID != "") ||
		eqAny(si.Category, schemas.CategoryServicePrincipal, schemas.CategoryManagedIdentity)
}

// externalUser: a guest or a user from another tenant (docs/scenarios.md row 4).
func externalUser(si *schemas.SignIn) bool {
	return eq(si.UserType, "guest") ||
		eqAny(si.CrossTenantAccessType, "b2bCollaboration", "b2bDirectConnect", "serviceProvider") ||
		crossTenant(si)
}

func crossTenant(si *schemas.SignIn) bool {
	return si.HomeTenantID != "" && si.ResourceTenantID != "" && !eq(si.HomeTenantID, si.ResourceTenantID)
}

// ownUserAbroad: the record is in the user's home tenant and the resource
// is in another one, so the policy that failed belongs to that tenant.
func ownUserAbroad(si *schemas.SignIn) bool {
	return crossTenant(si) && si.TenantID != "" && eq(si.TenantID, si.HomeTenantID)
}

func homeTenant(si *schemas.SignIn) string {
	switch {
	case si.HomeTenantName != "":
		return si.HomeTenantName
	case si.HomeTenantID != "":
		return "tenant " + si.HomeTenantID
	}
	return "their home organisation"
}

// ---- network ----

// trustedLocations names the trusted named locations the sign-in came from.
func trustedLocations(si *schemas.SignIn) []string {
	var out []string
	for _, n := range si.NetworkLocationDetails {
		if eq(n.NetworkType, "trustedNamedLocation") {
			if len(n.NetworkNames) == 0 {
				out = append(out, "(unnamed trusted location)")
			}
			out = append(out, n.NetworkNames...)
		}
	}
	return out
}

// ---- authentication details ----

// failedStepDetail is the result detail of the last failed step, or of
// the last step with a detail.
func failedStepDetail(si *schemas.SignIn) (method, detail string) {
	for i := len(si.AuthenticationDetails) - 1; i >= 0; i-- {
		d := si.AuthenticationDetails[i]
		if !d.Succeeded && d.AuthenticationStepResultDetail != "" {
			return d.AuthenticationMethod, d.AuthenticationStepResultDetail
		}
	}
	for i := len(si.AuthenticationDetails) - 1; i >= 0; i-- {
		if d := si.AuthenticationDetails[i]; d.AuthenticationStepResultDetail != "" {
			return d.AuthenticationMethod, d.AuthenticationStepResultDetail
		}
	}
	return "", ""
}

// passwordValidatedBy names the on-premises validation of the password
// (PTA, PHS, AD FS) when the record says.
func passwordValidatedBy(si *schemas.SignIn) string {
	for _, m := range si.AuthenticationMethodsUsed {
		if eqAny(m, "PTA", "PHS") {
			return strings.ToUpper(m)
		}
	}
	for _, d := range si.AuthenticationDetails {
		for _, m := range []string{d.AuthenticationMethod, d.AuthenticationMethodDetail} {
			switch {
			case eq(m, "PTA") || containsFold(m, "pass-through") || containsFold(m, "passthrough"):
				return "PTA"
			case eq(m, "PHS") || containsFold(m, "password hash"):
				return "PHS"
			}
		}
	}
	return ""
}
