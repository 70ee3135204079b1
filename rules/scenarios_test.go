package rules

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/signindiag/signindiag/rules/catalog"
	"github.com/signindiag/signindiag/schemas"
)

// Realistic sign-ins (field values as in docs/event-shapes.md) for the scenario
// table. Tenants, users and apps are fictional; GUIDs are well-formed.

const (
	tenantContoso  = "11111111-2222-3333-4444-555555555555"
	tenantFabrikam = "99999999-8888-4777-8666-555555555555"
	appExchange    = "00000002-0000-0ff1-ce00-000000000000"
	appAzurePortal = "c44b4083-3bb0-49c1-b47d-974e53cbdf3c"
)

var t0 = time.Date(2025, 3, 4, 9, 12, 31, 0, time.UTC)

type opt func(*schemas.SignIn)

// realistic is Ana's interactive browser sign-in to Exchange Online from
// Lyon: no CA applied, single factor, no risk, member of her own tenant.
func realistic(code int, opts ...opt) *schemas.SignIn {
	si := &schemas.SignIn{
		ID: "4f6c2a10-1b2c-4d3e-9f00-aa11bb22cc33", CreatedDateTime: t0, Category: schemas.CategoryInteractive,
		TenantID: tenantContoso, UserDisplayName: "Ana Ruiz", UserPrincipalName: "ana.ruiz@contoso.example",
		UserID: "0a1b2c3d-0000-4000-8000-000000000001", UserType: "Member",
		AppID: appExchange, AppDisplayName: "Office 365 Exchange Online", ResourceDisplayName: "Office 365 Exchange Online",
		ResourceID: appExchange, HomeTenantID: tenantContoso, ResourceTenantID: tenantContoso, CrossTenantAccessType: "none",
		IPAddress: "203.0.113.24", ClientAppUsed: "Browser", IsInteractive: true,
		UserAgent:     "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36 Edg/122.0.0.0",
		CorrelationID: "9d2e7c55-5a3f-4b8e-9c1d-123456789abc", OriginalRequestID: "4f6c2a10-1b2c-4d3e-9f00-aa11bb22cc33",
		Status:                    schemas.Status{ErrorCode: code},
		Location:                  schemas.Location{City: "Lyon", State: "Auvergne-Rhone-Alpes", CountryOrRegion: "FR"},
		DeviceDetail:              schemas.DeviceDetail{OperatingSystem: "Windows10", Browser: "Edge 122.0.0"},
		ConditionalAccessStatus:   "notApplied",
		AuthenticationRequirement: "singleFactorAuthentication",
		AuthenticationProtocol:    "none",
		RiskDetail:                "none", RiskLevelAggregated: "none", RiskLevelDuringSignIn: "none", RiskState: "none",
	}
	for _, o := range opts {
		o(si)
	}
	return si
}

func reason(r string) opt  { return func(si *schemas.SignIn) { si.Status.FailureReason = r } }
func details(d string) opt { return func(si *schemas.SignIn) { si.Status.AdditionalDetails = d } }
func ca(status string, ps ...schemas.AppliedPolicy) opt {
	return func(si *schemas.SignIn) {
		si.ConditionalAccessStatus = status
		si.AppliedConditionalAccessPolicies = ps
	}
}
func client(c string) opt     { return func(si *schemas.SignIn) { si.ClientAppUsed = c } }
func userAgent(ua string) opt { return func(si *schemas.SignIn) { si.UserAgent = ua } }
func protocol(p string) opt   { return func(si *schemas.SignIn) { si.AuthenticationProtocol = p } }
func mfa() opt {
	return func(si *schemas.SignIn) { si.AuthenticationRequirement = "multiFactorAuthentication" }
}
func nonInteractive() opt {
	return func(si *schemas.SignIn) { si.IsInteractive = false; si.Category = schemas.CategoryNonInteractive }
}
func flagged() opt { return func(si *schemas.SignIn) { si.FlaggedForReview = true } }
func azurePortal() opt {
	return func(si *schemas.SignIn) {
		si.AppID, si.AppDisplayName, si.ResourceDisplayName = appAzurePortal, "Azure Portal", "Windows Azure Service Management API"
	}
}
func requiredBy(providers ...string) opt {
	return func(si *schemas.SignIn) {
		for _, p := range providers {
			si.AuthenticationRequirementPolicies = append(si.AuthenticationRequirementPolicies,
				schemas.RequirementPolicy{RequirementProvider: p})
		}
	}
}
func risk(during, aggregated, state string, events ...string) opt {
	return func(si *schemas.SignIn) {
		si.RiskLevelDuringSignIn, si.RiskLevelAggregated, si.RiskState, si.RiskEventTypesV2 = during, aggregated, state, events
	}
}
func guestFromFabrikam() opt {
	return func(si *schemas.SignIn) {
		si.UserPrincipalName = "li.wei_fabrikam.example#EXT#@contoso.example"
		si.UserDisplayName = "Li Wei"
		si.UserType = "Guest"
		si.CrossTenantAccessType = "b2bCollaboration"
		si.HomeTenantID = tenantFabrikam
		si.HomeTenantName = "Fabrikam"
	}
}
func steps(ds ...schemas.AuthenticationDetail) opt {
	return func(si *schemas.SignIn) { si.AuthenticationDetails = ds }
}
func withDevice(d schemas.DeviceDetail) opt { return func(si *schemas.SignIn) { si.DeviceDetail = d } }
func servicePrincipal(name string) opt {
	return func(si *schemas.SignIn) {
		si.Category = schemas.CategoryServicePrincipal
		si.UserID, si.UserPrincipalName, si.UserDisplayName, si.UserType = "", "", "", ""
		si.ServicePrincipalID = "33333333-aaaa-4bbb-8ccc-000000000033"
		si.ServicePrincipalName = name
		si.IsInteractive = false
		si.ClientAppUsed, si.UserAgent = "", ""
		si.DeviceDetail = schemas.DeviceDetail{}
		si.ClientCredentialType = "clientSecret"
	}
}

// Policies as Entra reports them.
func policy(name, result, conditions string, controls ...string) schemas.AppliedPolicy {
	return schemas.AppliedPolicy{ID: "7b1e0000-0000-4000-8000-" + fmt.Sprintf("%012x", len(name)), DisplayName: name,
		Result: result, ConditionsSatisfied: conditions, ConditionsNotSatisfied: "none", EnforcedGrantControls: controls}
}
func withInclude(p schemas.AppliedPolicy, rules ...string) schemas.AppliedPolicy {
	for i := 0; i+1 < len(rules); i += 2 {
		p.IncludeRulesSatisfied = append(p.IncludeRulesSatisfied, schemas.RuleSatisfied{ConditionalAccessCondition: rules[i], RuleSatisfied: rules[i+1]})
	}
	return p
}
func withExclude(p schemas.AppliedPolicy, rules ...string) schemas.AppliedPolicy {
	for i := 0; i+1 < len(rules); i += 2 {
		p.ExcludeRulesSatisfied = append(p.ExcludeRulesSatisfied, schemas.RuleSatisfied{ConditionalAccessCondition: rules[i], RuleSatisfied: rules[i+1]})
	}
	return p
}

var (
	blockOutsideEU = withInclude(policy("Block access outside FR/DE", "failure", "application,users,location", "Block"),
		"location", "allLocations")
	blockHighRisk = withInclude(policy("Block high-risk sign-ins", "failure", "application,users,signInRisk", "Block"),
		"signInRisk", "high")
	blockLegacy = withInclude(policy("Block legacy authentication", "failure", "application,users,clientType", "Block"),
		"clientType", "exchangeActiveSync", "clientType", "other")
	requireMFA       = policy("Require MFA for all users", "failure", "application,users", "Mfa")
	requireCompliant = policy("Require compliant device for Office 365", "failure", "application,users,devicePlatform", "RequireCompliantDevice")
	requireHybrid    = policy("Require hybrid joined device for admins", "failure", "application,users", "RequireDomainJoinedDevice")
	requireApproved  = policy("Mobile: approved apps only", "failure", "application,users,devicePlatform", "RequireApprovedApp")
)

type scenarioCase struct {
	name   string
	si     *schemas.SignIn
	before int // failures in the window before this sign-in
	want   string
	// checks on the finding (when want != "")
	severity string   // "" = not checked
	summary  []string // substrings of the summary
	recs     []string // substrings of the joined recommendations
	policies []string // display names in Finding.Policies, in order
}

func evalCase(t *testing.T, c scenarioCase) []schemas.Finding {
	t.Helper()
	cat := catalog.Default()
	e := NewEngine(Config{FailureThreshold: 10}, cat)
	isFailure := cat.IsFailure(c.si.Status.ErrorCode)
	after := c.before
	if isFailure {
		after++
	}
	return e.Evaluate(Input{SignIn: c.si, IsFailure: isFailure, FailuresBefore: c.before, Failures48h: after, Window: 48 * time.Hour})
}

func scenarioCases() []scenarioCase {
	return []scenarioCase{
		// ---- blocked_by_risk_policy ----
		{name: "risk block that is also a CA block (53003, signInRisk rule, risk high)",
			si: realistic(53003, ca("failure", blockHighRisk, policy("Require MFA for all users", "notApplied", "application")),
				risk("high", "medium", "atRisk", "anonymizedIPAddress", "unfamiliarFeatures"),
				reason("Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.")),
			want: ScenarioBlockedByRiskPolicy, severity: schemas.SeverityHigh,
			summary:  []string{`"Block high-risk sign-ins"`, "signInRisk", "risk high during sign-in", "anonymizedIPAddress", "ana.ruiz@contoso.example"},
			recs:     []string{"Risky sign-ins", "Confirm sign-in safe", "secure password change"},
			policies: []string{"Block high-risk sign-ins"}},
		{name: "risk block without readable policy details falls back on the risk fields",
			si:   realistic(53003, ca("failure"), risk("high", "high", "atRisk", "maliciousIPAddress")),
			want: ScenarioBlockedByRiskPolicy, summary: []string{"a risk-based Conditional Access policy", "maliciousIPAddress"}},
		{name: "user-risk policy requiring a password change, failed",
			si: realistic(53003, ca("failure", withInclude(policy("User risk: require password change", "failure", "users,userRisk", "Block"), "userRisk", "high")),
				risk("none", "high", "atRisk", "leakedCredentials")),
			want: ScenarioBlockedByRiskPolicy, summary: []string{"userRisk", "leakedCredentials"}, recs: []string{"secure password change"}},
		{name: "53011: blocked for risk in the home tenant",
			si:   realistic(53011, guestFromFabrikam()),
			want: ScenarioBlockedByRiskPolicy, summary: []string{"home tenant", "Fabrikam"}, recs: []string{"Fabrikam"}},
		{name: "50135: password change required because of account risk",
			si: realistic(50135, risk("none", "high", "atRisk")), want: ScenarioBlockedByRiskPolicy},
		{name: "a risky sign-in blocked by a location policy stays a CA block",
			si:   realistic(53003, ca("failure", blockOutsideEU), risk("high", "none", "atRisk", "unfamiliarFeatures")),
			want: ScenarioBlockedByConditionalAccess, summary: []string{"does not act on risk"}, policies: []string{"Block access outside FR/DE"}},
		{name: "a guest blocked by a risk policy is a risk block, not B2B",
			si:   realistic(53003, guestFromFabrikam(), ca("failure", blockHighRisk), risk("high", "none", "atRisk")),
			want: ScenarioBlockedByRiskPolicy},

		// ---- legacy_authentication ----
		{name: "legacy auth blocked by CA (53003, IMAP4, clientType)",
			si: realistic(53003, client("IMAP4"), ca("failure", blockLegacy, policy("Require MFA for all users", "notApplied", "application,users", "Mfa")),
				nonInteractive(), userAgent("")),
			want: ScenarioLegacyAuthentication, severity: schemas.SeverityLow,
			summary:  []string{`"IMAP4"`, `"Block legacy authentication"`, "client app type", "clientType"},
			recs:     []string{"modern authentication", "OAuth 2.0 for IMAP", "Do not exclude"},
			policies: []string{"Block legacy authentication"}},
		{name: "legacy auth blocked by CA, repeated: medium",
			si: realistic(53003, client("Exchange ActiveSync"), ca("failure", blockLegacy)), before: 6,
			want: ScenarioLegacyAuthentication, severity: schemas.SeverityMedium, recs: []string{"Outlook for iOS/Android", "7 failed sign-ins"}},
		{name: "IMAP4 blocked by a location policy is a CA block",
			si:   realistic(53003, client("IMAP4"), ca("failure", blockOutsideEU)),
			want: ScenarioBlockedByConditionalAccess, recs: []string{`"IMAP4" uses legacy authentication`}},
		{name: "MFA interrupt on a legacy client can never complete",
			si:   realistic(50074, client("Exchange ActiveSync"), requiredBy("multiConditionalAccess"), ca("failure", requireMFA)),
			want: ScenarioLegacyAuthentication, summary: []string{"can never complete", "Conditional Access policy \"Require MFA for all users\""},
			policies: []string{"Require MFA for all users"}},
		{name: "successful basic auth over Authenticated SMTP (BAV2ROPC)",
			si:   realistic(0, client("Authenticated SMTP"), userAgent("BAV2ROPC"), protocol("ropc")),
			want: ScenarioLegacyAuthentication, severity: schemas.SeverityHigh, summary: []string{"BAV2ROPC", "password only"}, recs: []string{"SMTP AUTH"}},
		{name: "a plain ActiveSync success is not a finding",
			si: realistic(0, client("Exchange ActiveSync"), userAgent("Apple-iPhone15C2/2102.55"))},

		// ---- b2b_blocked_by_conditional_access ----
		{name: "guest blocked by CA",
			si: realistic(53003, guestFromFabrikam(), azurePortal(),
				ca("failure", withInclude(policy("Block guests from admin portals", "failure", "application,users", "Block"), "users", "guest"))),
			want: ScenarioB2BBlockedByConditionalAccess, severity: schemas.SeverityMedium,
			summary:  []string{"li.wei_fabrikam.example#EXT#@contoso.example", "external user from Fabrikam", "b2bCollaboration", `"Block guests from admin portals"`},
			recs:     []string{"Guest or external users", "What If"},
			policies: []string{"Block guests from admin portals"}},
		{name: "guest failing a compliant-device requirement: trust the home tenant's device claims",
			si: realistic(53000, guestFromFabrikam(), ca("failure", requireCompliant),
				withDevice(schemas.DeviceDetail{DeviceID: "5f0c0000-1111-4222-8333-444455556666", DisplayName: "LIWEI-LAPTOP", OperatingSystem: "Windows10", TrustType: "Azure AD registered"})),
			want: ScenarioB2BBlockedByConditionalAccess, recs: []string{"Trust compliant devices", "Fabrikam"}, policies: []string{"Require compliant device for Office 365"}},
		{name: "inbound cross-tenant policy (500213)",
			si:   realistic(500213, guestFromFabrikam()),
			want: ScenarioB2BBlockedByConditionalAccess, summary: []string{"inbound cross-tenant access settings"}, recs: []string{"Inbound access"}},
		{name: "our user blocked by another organisation's policy",
			si: realistic(53003, func(si *schemas.SignIn) {
				si.CrossTenantAccessType = "b2bCollaboration"
				si.ResourceTenantID = tenantFabrikam
			}, ca("failure", policy("Fabrikam: block unmanaged devices", "failure", "application,users", "Block"))),
			want: ScenarioB2BBlockedByConditionalAccess, summary: []string{"another organisation", tenantFabrikam}, recs: []string{"resource organisation"}},

		// ---- blocked_by_conditional_access ----
		{name: "member blocked by a location policy",
			si: realistic(53003, azurePortal(), ca("failure", blockOutsideEU, policy("Require MFA for admins", "notApplied", "application", "Mfa")),
				func(si *schemas.SignIn) {
					si.IPAddress = "198.51.100.77"
					si.Location = schemas.Location{City: "Lagos", CountryOrRegion: "NG"}
				}),
			want: ScenarioBlockedByConditionalAccess, severity: schemas.SeverityMedium,
			summary:  []string{`"Block access outside FR/DE"`, "Lagos, NG", "error 53003", "matched on: application, users, location"},
			recs:     []string{"What If", "named location", "198.51.100.77"},
			policies: []string{"Block access outside FR/DE"}},
		{name: "tenant security policy (530032)", si: realistic(530032), want: ScenarioBlockedByConditionalAccess,
			summary: []string{"tenant-level security policy"}},

		// ---- failed_conditional_access ----
		{name: "non-compliant device (53000)",
			si: realistic(53000, ca("failure", requireCompliant),
				withDevice(schemas.DeviceDetail{DeviceID: "1e2d0000-aaaa-4bbb-8ccc-000000000123", DisplayName: "ANA-SURFACE", OperatingSystem: "Windows10", TrustType: "Azure AD joined", IsManaged: true})),
			want: ScenarioFailedConditionalAccess, severity: schemas.SeverityLow,
			summary:  []string{"requires a device marked compliant", "ANA-SURFACE", "compliant: false"},
			recs:     []string{"Intune > Devices", "too strict"},
			policies: []string{"Require compliant device for Office 365"}},
		{name: "non-compliant device, no device identity sent, repeated",
			si: realistic(53000, ca("failure", requireCompliant)), before: 5,
			want: ScenarioFailedConditionalAccess, severity: schemas.SeverityMedium, recs: []string{"no device identity", "6 failed sign-ins"}},
		{name: "hybrid join required (53001)", si: realistic(53001, ca("failure", requireHybrid)),
			want: ScenarioFailedConditionalAccess, recs: []string{"hybrid joined", "dsregcmd"}},
		{name: "approved app required (530021) on iOS",
			si: realistic(530021, ca("failure", requireApproved), client("Mobile Apps and Desktop clients"),
				withDevice(schemas.DeviceDetail{OperatingSystem: "Ios"})),
			want: ScenarioFailedConditionalAccess, recs: []string{"approved client app"}},
		{name: "device authentication failed while a device policy failed (50155)",
			si:   realistic(50155, ca("failure", requireHybrid), reason("Device authentication failed for this user.")),
			want: ScenarioFailedConditionalAccess, recs: []string{"re-register"}},
		{name: "device authentication failed with no CA involved (50155): error code insight",
			si:   realistic(50155, reason("Device authentication failed for this user."), client("Mobile Apps and Desktop clients")),
			want: ScenarioErrorCodeInsight, recs: []string{"No Conditional Access policy was involved", "dsregcmd"}},
		{name: "device authentication required (50097), no CA: interrupt, no finding",
			si: realistic(50097, reason("Device Authentication Required - DeviceId -DeviceAltSecId claims are null OR no device corresponding to the device identifier exists."))},
		{name: "MFA failure under an MFA policy is mfa_denied, not a CA grant failure",
			si:   realistic(500121, ca("failure", requireMFA), details("MFA denied; user declined the authentication"), mfa()),
			want: ScenarioMFADenied},

		// ---- security_defaults ----
		{name: "blocked by security defaults (530035)",
			si:   realistic(530035, reason("Access has been blocked by security defaults. This is due to the request using legacy auth or being deemed unsafe by security defaults policies.")),
			want: ScenarioSecurityDefaults, severity: schemas.SeverityMedium, summary: []string{"judged the request unsafe"}, recs: []string{"Conditional Access policies"}},
		{name: "legacy client blocked by security defaults (530035, POP3): security defaults first",
			si:   realistic(530035, client("POP3")),
			want: ScenarioSecurityDefaults, summary: []string{`"POP3"`, "legacy"}, recs: []string{"IMAP/POP"}},
		{name: "MFA registration required by security defaults (50079)",
			si:   realistic(50079, requiredBy("mfaRegistrationRequiredBySecurityDefaults")),
			want: ScenarioSecurityDefaults, severity: schemas.SeverityInfo, summary: []string{"14 days"}},

		// ---- mfa_proofup_risky_location ----
		{name: "registration only from trusted locations (53010)",
			si: realistic(53010, ca("failure", withInclude(policy("Register security info from corporate network", "failure", "users,location", "Block"), "location", "allLocations")),
				func(si *schemas.SignIn) {
					si.NetworkLocationDetails = []schemas.NetworkLocation{{NetworkType: "namedNetwork", NetworkNames: []string{"Home ISP range"}}}
				}),
			want: ScenarioMFAProofUpRiskyLocation, severity: schemas.SeverityMedium,
			summary: []string{"not from a trusted named location", "error 53010"}, recs: []string{"Temporary Access Pass", "trusted named location"},
			policies: []string{"Register security info from corporate network"}},
		{name: "registration blocked due to risk (53004)",
			si:   realistic(53004, risk("medium", "none", "atRisk", "unfamiliarFeatures")),
			want: ScenarioMFAProofUpRiskyLocation, severity: schemas.SeverityHigh, recs: []string{"their own MFA method"}},
		{name: "proof-up interrupt from a risky sign-in",
			si:   realistic(50079, requiredBy("mfaRegistrationRequiredByMultiConditionalAccess"), risk("high", "none", "atRisk", "anonymizedIPAddress")),
			want: ScenarioMFAProofUpRiskyLocation, severity: schemas.SeverityHigh, summary: []string{"high risk"}},

		// ---- mfa_proofup_required ----
		{name: "MFA registration required (50079, CA registration)",
			si:   realistic(50079, requiredBy("mfaRegistrationRequiredByMultiConditionalAccess"), azurePortal()),
			want: ScenarioMFAProofUpRequired, severity: schemas.SeverityInfo,
			summary: []string{"proof-up", "Conditional Access policy requiring MFA registration", "correlation id 9d2e7c55"}, recs: []string{"aka.ms/mysecurityinfo", "Temporary Access Pass"}},
		{name: "MFA registration interrupt (50072) from the Identity Protection policy",
			si:   realistic(50072, requiredBy("mfaRegistrationRequiredByIdentityProtectionPolicy")),
			want: ScenarioMFAProofUpRequired, recs: []string{"14 days"}},

		// ---- mfa_denied ----
		{name: "MFA denied by the user (500121)",
			si: realistic(500121, mfa(), requiredBy("multiConditionalAccess"), ca("failure", requireMFA),
				details("MFA denied; user declined the authentication"),
				steps(schemas.AuthenticationDetail{AuthenticationMethod: "Password", Succeeded: true, AuthenticationStepRequirement: "Primary authentication"},
					schemas.AuthenticationDetail{AuthenticationMethod: "Mobile app notification", AuthenticationStepResultDetail: "MFA denied; user declined the authentication", AuthenticationStepRequirement: "Multi-factor authentication"})),
			want: ScenarioMFADenied, severity: schemas.SeverityMedium,
			summary:  []string{"MFA denied; user declined the authentication", "Mobile app notification", "knows ana.ruiz@contoso.example's password"},
			recs:     []string{"did not start this sign-in", "203.0.113.24"},
			policies: []string{"Require MFA for all users"}},
		{name: "MFA fraud reported (500121)",
			si:   realistic(500121, mfa(), details("MFA denied; Phone App Reported Fraud")),
			want: ScenarioMFADenied, severity: schemas.SeverityHigh, recs: []string{"reported the MFA request as fraud"}},
		{name: "MFA not answered, detail only in the authentication step",
			si: realistic(500121, mfa(), details("MFA required in Azure AD"),
				steps(schemas.AuthenticationDetail{AuthenticationMethod: "Mobile app notification", AuthenticationStepResultDetail: "MFA denied; user did not respond to mobile app notification"})),
			want: ScenarioMFADenied, severity: schemas.SeverityLow, summary: []string{"did not respond"}, recs: []string{"MFA fatigue"}},
		{name: "repeated MFA denials are high",
			si: realistic(500121, mfa(), details("MFA denied; user declined the authentication")), before: 5,
			want: ScenarioMFADenied, severity: schemas.SeverityHigh},
		{name: "external MFA not satisfied (50158)",
			si: realistic(50158), want: ScenarioMFADenied, recs: []string{"external MFA or claims provider"}},

		// ---- mfa_from_conditional_access ----
		{name: "MFA interrupt (50074) required by CA (multiConditionalAccess)",
			si: realistic(50074, mfa(), requiredBy("multiConditionalAccess"), ca("failure", requireMFA),
				details("MFA required in Azure AD"), reason("Strong Authentication is required.")),
			want: ScenarioMFAFromConditionalAccess, severity: schemas.SeverityInfo,
			summary:  []string{`Conditional Access policy "Require MFA for all users"`, "an interrupt, not a failure", "correlation id 9d2e7c55"},
			recs:     []string{"Nothing to fix", "Temporary Access Pass"},
			policies: []string{"Require MFA for all users"}},
		{name: "MFA interrupt as in real Log Analytics rows: CA failure and step requirement MultiConditionalAccess",
			si: realistic(50074, mfa(), ca("failure"), details("MFA required in Azure AD"), reason("User did not pass the MFA challenge."),
				steps(schemas.AuthenticationDetail{AuthenticationMethod: "Text message", AuthenticationStepResultDetail: "MFA required in Azure AD", AuthenticationStepRequirement: "MultiConditionalAccess"})),
			want: ScenarioMFAFromConditionalAccess},
		{name: "MFA interrupt required by an authentication strength",
			si: realistic(50074, requiredBy("authenticationStrengths"), ca("failure", func() schemas.AppliedPolicy {
				p := policy("Phishing-resistant MFA for admins", "failure", "application,users")
				p.AuthenticationStrength = &schemas.AuthenticationStrength{DisplayName: "Phishing-resistant MFA", AuthenticationStrengthResult: "mfaMissing"}
				return p
			}())),
			want: ScenarioMFAFromConditionalAccess, summary: []string{`authentication strength "Phishing-resistant MFA"`}},
		{name: "non-interactive MFA required (50076) by CA: unattended clients need a workload identity",
			si:   realistic(50076, nonInteractive(), client("Mobile Apps and Desktop clients"), requiredBy("multiConditionalAccess")),
			want: ScenarioMFAFromConditionalAccess, recs: []string{"workload identity"}},

		// ---- mfa_from_other_requirements ----
		{name: "MFA interrupt (50074) from per-user MFA",
			si:   realistic(50074, mfa(), requiredBy("user"), details("MFA required in Azure AD")),
			want: ScenarioMFAFromOtherRequirements, severity: schemas.SeverityInfo,
			summary: []string{"per-user MFA"}, recs: []string{"Turn off per-user MFA"}},
		{name: "MFA interrupt (50074) from security defaults",
			si:   realistic(50074, requiredBy("securityDefaults")),
			want: ScenarioMFAFromOtherRequirements, summary: []string{"security defaults"}, recs: []string{"replace security defaults"}},
		{name: "MFA interrupt asked by the application (request)",
			si:   realistic(50076, requiredBy("request"), azurePortal()),
			want: ScenarioMFAFromOtherRequirements, recs: []string{"Azure Portal asked for MFA itself"}},
		{name: "MFA interrupt from the risk-based policy",
			si:   realistic(50074, requiredBy("riskBasedPolicy"), risk("medium", "none", "atRisk", "unfamiliarFeatures")),
			want: ScenarioMFAFromOtherRequirements, recs: []string{"unfamiliarFeatures"}},
		{name: "MFA interrupt with no CA applied and no provider recorded",
			si:   realistic(50074, mfa(), details("MFA required in Azure AD")),
			want: ScenarioMFAFromOtherRequirements, summary: []string{"no Conditional Access policy applied"}},
		{name: "bare MFA interrupt (nothing says who asked): no finding",
			si: realistic(50074, ca(""), func(si *schemas.SignIn) { si.AuthenticationRequirement = "" })},

		// ---- account_locked ----
		{name: "locked over IMAP4",
			si: realistic(50053, client("IMAP4"), nonInteractive(), reason("Account is locked because user tried to sign in too many times with an incorrect user ID or password.")), before: 3,
			want: ScenarioAccountLocked, severity: schemas.SeverityMedium, summary: []string{"4 failed sign-ins", "IMAP4"}, recs: []string{"old stored password"}},
		{name: "locked from a malicious IP",
			si:   realistic(50053, reason("Account is locked because the sign-in came from an IP address with malicious activity.")),
			want: ScenarioAccountLocked, severity: schemas.SeverityHigh},

		// ---- invalid_credentials ----
		{name: "bad password (50126)",
			si:   realistic(50126, reason("Error validating credentials due to invalid username or password.")),
			want: ScenarioInvalidCredentials, severity: schemas.SeverityLow, summary: []string{"1 failed sign-in in the last 48 hours"}},
		{name: "mistyped user name (50034)",
			si:   realistic(50034, func(si *schemas.SignIn) { si.SignInIdentifier = "ana.ruis@contoso.example" }),
			want: ScenarioInvalidCredentials, summary: []string{"ana.ruis@contoso.example"}, recs: []string{"spelling"}},
		{name: "bad password validated by PTA, many failures",
			si: realistic(50126, func(si *schemas.SignIn) { si.AuthenticationMethodsUsed = []string{"PTA"} }), before: 11,
			want: ScenarioInvalidCredentials, severity: schemas.SeverityHigh, summary: []string{"Pass-through Authentication"}},

		// ---- app_service_provider ----
		{name: "SAML authn context mismatch (75011)",
			si:   realistic(75011, protocol("saml20"), func(si *schemas.SignIn) { si.AppDisplayName = "Salesforce" }),
			want: ScenarioAppServiceProvider, summary: []string{"service provider", "NoMatchedAuthnContextInOutputClaims"}, recs: []string{"RequestedAuthnContext", "Salesforce"}},
		{name: "SAML identifier mismatch (65005 over SAML)",
			si:   realistic(65005, protocol("saml20"), func(si *schemas.SignIn) { si.AppDisplayName = "ServiceNow" }),
			want: ScenarioAppServiceProvider, recs: []string{"Entity ID"}},

		// ---- app_configuration ----
		{name: "user not assigned to the app (50105)",
			si: realistic(50105, func(si *schemas.SignIn) {
				si.AppDisplayName, si.AppID = "Workday", "1c2d3e4f-0000-4000-8000-00000000abcd"
			}),
			want: ScenarioAppConfiguration, severity: schemas.SeverityLow, recs: []string{"Users and groups", "Assignment required?", "Workday (app id 1c2d3e4f"}},
		{name: "missing permissions (65005, OAuth)", si: realistic(65005, protocol("oAuth2")), want: ScenarioAppConfiguration, recs: []string{"API permissions"}},
		{name: "service principal: app not found in tenant (700016)",
			si:   realistic(700016, servicePrincipal("nightly-export")),
			want: ScenarioAppConfiguration, severity: schemas.SeverityMedium, summary: []string{"service principal nightly-export"}},

		// ---- pass_through_authentication ----
		{name: "PTA agent cannot reach AD (80001)", si: realistic(80001), want: ScenarioPassThroughAuthentication,
			severity: schemas.SeverityHigh, recs: []string{"domain controllers", "Troubleshoot Pass-through Authentication"}},
		{name: "PTA agent timeout (80014, a service error) is still explained", si: realistic(80014), want: ScenarioPassThroughAuthentication,
			severity: schemas.SeverityMedium},
		{name: "outside AD logon hours (80012)", si: realistic(80012), want: ScenarioPassThroughAuthentication, severity: schemas.SeverityLow,
			recs: []string{"logon hours"}},

		// ---- seamless_sso ----
		{name: "Kerberos ticket invalid (81010)", si: realistic(81010, nonInteractive()), want: ScenarioSeamlessSSO, recs: []string{"klist purge"}},
		{name: "Seamless SSO not enabled (50180)", si: realistic(50180), want: ScenarioSeamlessSSO, recs: []string{"Entra Connect"}},
		{name: "81012 is benign: no finding", si: realistic(81012, nonInteractive())},

		// ---- error_code_insight ----
		{name: "disabled account (50057)",
			si:   realistic(50057, azurePortal(), reason("User account is disabled. The account has been disabled by an administrator.")),
			want: ScenarioErrorCodeInsight, summary: []string{"UserDisabled"}, recs: []string{"Re-enable account", "error?code=50057"}},
		{name: "expired client secret of a service principal (7000222)",
			si:   realistic(7000222, servicePrincipal("nightly-export"), reason("The provided client secret keys are expired.")),
			want: ScenarioErrorCodeInsight, recs: []string{"Certificates & secrets"}},
		{name: "unknown code", si: realistic(4242424, reason("Something new.")), want: ScenarioErrorCodeInsight,
			summary: []string{"does not know", "Something new."}},
		{name: "flagged 'keep me signed in' interrupt is explained", si: realistic(50140, flagged()),
			want: ScenarioErrorCodeInsight, severity: schemas.SeverityInfo, summary: []string{"flagged this sign-in"}},
		{name: "unflagged KMSI interrupt: no finding", si: realistic(50140)},
		{name: "benign token expiry (70043): no finding", si: realistic(70043, nonInteractive())},

		// ---- successful_signin ----
		{name: "high-risk success that no policy interrupted",
			si:   realistic(0, risk("high", "none", "atRisk", "unfamiliarFeatures", "anonymizedIPAddress"), ca("success"), client("Browser")),
			want: ScenarioSuccessfulSignIn, severity: schemas.SeverityHigh,
			summary: []string{"succeeded although", "risk high during sign-in"}, recs: []string{"risk-based Conditional Access"}},
		{name: "at-risk user, password only, low risk: still not interrupted",
			si:   realistic(0, risk("low", "low", "atRisk")),
			want: ScenarioSuccessfulSignIn, severity: schemas.SeverityMedium},
		{name: "token refresh of a high-risk user: the user's risk alone is not a finding per refresh",
			si: realistic(0, nonInteractive(), client("Mobile Apps and Desktop clients"), risk("none", "high", "atRisk"))},
		{name: "non-interactive sign-in that was itself high risk",
			si:   realistic(0, nonInteractive(), risk("high", "high", "atRisk", "anomalousToken")),
			want: ScenarioSuccessfulSignIn, severity: schemas.SeverityHigh, summary: []string{"anomalousToken"}},
		{name: "report-only policy would have blocked",
			si:   realistic(0, ca("notApplied", policy("Block access outside FR/DE (report-only)", "reportOnlyFailure", "application,users,location", "Block"))),
			want: ScenarioSuccessfulSignIn, severity: schemas.SeverityLow,
			summary: []string{"would have failed it"}, policies: []string{"Block access outside FR/DE (report-only)"}},
		{name: "single-factor success excluded from the MFA policy",
			si: realistic(0, azurePortal(), ca("notApplied",
				withExclude(policy("Require MFA for all users", "notApplied", "application,users", "Mfa"), "users", "groupId"),
				policy("Block legacy authentication", "notApplied", "application,users", "Block"))),
			want: ScenarioSuccessfulSignIn, summary: []string{`"Require MFA for all users"`, "exclusion (users groupId)"},
			recs: []string{"emergency access"}, policies: []string{"Require MFA for all users"}},
		{name: "password-only ROPC from a modern client",
			si:   realistic(0, protocol("ropc"), client("Mobile Apps and Desktop clients"), userAgent("python-requests/2.31.0")),
			want: ScenarioSuccessfulSignIn, severity: schemas.SeverityMedium, recs: []string{"python-requests"}},
		{name: "flagged success",
			si: realistic(0, flagged(), mfa()), want: ScenarioSuccessfulSignIn, severity: schemas.SeverityInfo,
			summary: []string{"flagged it for review"}},
		{name: "plain success: no finding", si: realistic(0)},
		{name: "MFA success satisfied by claim: no finding",
			si: realistic(0, mfa(), requiredBy("multiConditionalAccess"), details("MFA requirement satisfied by claim in the token"),
				ca("success", policy("Require MFA for all users", "success", "application,users", "Mfa")))},
		{name: "single-factor success with policies not applied for lack of scope: no finding",
			si: realistic(0, ca("notApplied", policy("Require MFA for admins", "notApplied", "application", "Mfa"),
				policy("Block legacy authentication", "notApplied", "application,users", "Block"),
				policy("Require MFA (report-only)", "reportOnlyNotApplied", "application", "Mfa")))},
		{name: "single-factor success excluded only by a trusted location: by design, no finding",
			si: realistic(0, ca("notApplied", withExclude(policy("Require MFA outside the office", "notApplied", "application,users", "Mfa"), "location", "allTrustedLocations")),
				func(si *schemas.SignIn) {
					si.NetworkLocationDetails = []schemas.NetworkLocation{{NetworkType: "trustedNamedLocation", NetworkNames: []string{"Lyon HQ"}}}
				})},
		{name: "report-only policy on a sign-in an enforced policy already covered: no finding",
			si: realistic(0, mfa(), ca("success", policy("Require MFA for all users", "success", "application,users", "Mfa"),
				policy("Require compliant device (pilot)", "reportOnlyFailure", "application,users", "RequireCompliantDevice")))},
		{name: "high risk dismissed by an admin: no finding",
			si: realistic(0, risk("high", "high", "dismissed"))},
	}
}

// TestScenarios runs the table: each case expects one scenario (or none)
// from the sign-in rules, and checks the finding's content.
func TestScenarios(t *testing.T) {
	for _, c := range scenarioCases() {
		t.Run(c.name, func(t *testing.T) {
			fs := evalCase(t, c)
			var got []string
			for _, f := range fs {
				if f.Scenario != ScenarioExcessiveFailures48h {
					got = append(got, f.Scenario)
				}
			}
			if c.want == "" {
				if len(got) != 0 {
					t.Fatalf("scenarios = %v, want none; summary: %s", got, fs[0].Summary)
				}
				return
			}
			if len(got) != 1 || got[0] != c.want {
				t.Fatalf("scenarios = %v, want [%s]", got, c.want)
			}
			f := fs[0]
			checkFinding(t, c.si, f)
			if c.severity != "" && f.Severity != c.severity {
				t.Errorf("severity = %s, want %s", f.Severity, c.severity)
			}
			for _, s := range c.summary {
				if !strings.Contains(f.Summary, s) {
					t.Errorf("summary lacks %q:\n%s", s, f.Summary)
				}
			}
			joined := strings.Join(f.Recommendations, "\n")
			for _, s := range c.recs {
				if !strings.Contains(joined, s) {
					t.Errorf("recommendations lack %q:\n%s", s, joined)
				}
			}
			if c.policies != nil {
				var names []string
				for _, p := range f.Policies {
					names = append(names, p.DisplayName)
				}
				if !slices.Equal(names, c.policies) {
					t.Errorf("policies = %v, want %v", names, c.policies)
				}
			}
		})
	}
}

// checkFinding asserts what every finding must carry.
func checkFinding(t *testing.T, si *schemas.SignIn, f schemas.Finding) {
	t.Helper()
	if f.Title == "" || f.Summary == "" || len(f.Recommendations) == 0 || f.Severity == "" {
		t.Errorf("incomplete finding: %+v", f)
	}
	if !strings.Contains(f.Summary, who(si)) {
		t.Errorf("summary does not name %s: %s", who(si), f.Summary)
	}
	if si.AppDisplayName != "" && !strings.Contains(f.Summary, si.AppDisplayName) {
		t.Errorf("summary does not name the app %s: %s", si.AppDisplayName, f.Summary)
	}
	if code := si.Status.ErrorCode; code != 0 {
		if f.ErrorCode != code || f.ErrorCodeURL != fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", code) {
			t.Errorf("error code %d / %q", f.ErrorCode, f.ErrorCodeURL)
		}
	} else if f.ErrorCodeURL != "" {
		t.Errorf("a success has an error page: %q", f.ErrorCodeURL)
	}
	if f.ID != schemas.FindingID(f.Scenario, si.Category, si.ID) || f.SignInID != si.ID || f.CorrelationID != si.CorrelationID {
		t.Errorf("ids: %+v", f)
	}
	if rank(f.Severity) == 0 {
		t.Errorf("unknown severity %q", f.Severity)
	}
	for _, r := range f.Recommendations {
		if strings.TrimSpace(r) == "" {
			t.Errorf("empty recommendation in %v", f.Recommendations)
		}
	}
}

// TestEveryScenarioHasACase: the table covers every single-sign-in scenario
// id of docs/scenarios.md (password_spray and mfa_fatigue are windowed and
// built elsewhere; excessive_failures_48h has its own tests).
func TestEveryScenarioHasACase(t *testing.T) {
	all := []string{
		ScenarioBlockedByConditionalAccess, ScenarioFailedConditionalAccess, ScenarioMFAFromConditionalAccess,
		ScenarioB2BBlockedByConditionalAccess, ScenarioMFAFromOtherRequirements, ScenarioMFAProofUpRequired,
		ScenarioMFAProofUpRiskyLocation, ScenarioSuccessfulSignIn, ScenarioAccountLocked, ScenarioInvalidCredentials,
		ScenarioAppServiceProvider, ScenarioAppConfiguration, ScenarioSecurityDefaults, ScenarioErrorCodeInsight,
		ScenarioLegacyAuthentication, ScenarioBlockedByRiskPolicy, ScenarioPassThroughAuthentication, ScenarioSeamlessSSO,
		ScenarioMFADenied,
	}
	covered := map[string]int{}
	for _, c := range scenarioCases() {
		covered[c.want]++
	}
	engine := NewEngine(Config{FailureThreshold: 10}, catalog.Default())
	for _, s := range all {
		if covered[s] == 0 {
			t.Errorf("no case for scenario %s", s)
		}
		if !slices.Contains(engine.Scenarios(), s) {
			t.Errorf("the engine has no rule for %s", s)
		}
	}
	if slices.Contains(engine.Scenarios(), ScenarioExcessiveFailures48h) {
		t.Error("excessive_failures_48h is a windowed Detection, not an engine rule")
	}
	t.Logf("%d cases; per scenario: %v", len(scenarioCases()), covered)
}

// TestPrecedenceOrder pins the documented order of the sign-in rules.
func TestPrecedenceOrder(t *testing.T) {
	got := NewEngine(Config{}, catalog.Default()).Scenarios()
	want := []string{
		ScenarioBlockedByRiskPolicy, ScenarioLegacyAuthentication, ScenarioB2BBlockedByConditionalAccess,
		ScenarioBlockedByConditionalAccess, ScenarioFailedConditionalAccess, ScenarioSecurityDefaults,
		ScenarioLegacyAuthentication, ScenarioMFAProofUpRiskyLocation, ScenarioMFAProofUpRequired, ScenarioMFADenied,
		ScenarioMFAFromConditionalAccess, ScenarioMFAFromOtherRequirements, ScenarioAccountLocked, ScenarioInvalidCredentials,
		ScenarioAppServiceProvider, ScenarioAppConfiguration, ScenarioPassThroughAuthentication, ScenarioSeamlessSSO,
		ScenarioErrorCodeInsight, ScenarioSuccessfulSignIn,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("precedence\n got  %v\n want %v", got, want)
	}
}

// TestEveryCatalogueFailureGetsAFinding: whatever the code, a failure is
// explained, and interrupts, benign and service codes (but PTA's) are not
// findings unless flagged.
func TestEveryCatalogueFailureGetsAFinding(t *testing.T) {
	cat := catalog.Default()
	e := NewEngine(Config{FailureThreshold: 10}, cat)
	dist := map[string]int{}
	for _, code := range cat.All() {
		si := realistic(code.Code)
		fs := e.Evaluate(Input{SignIn: si, IsFailure: cat.IsFailure(code.Code), Failures48h: 1, Window: 48 * time.Hour})
		switch {
		case cat.IsFailure(code.Code):
			if len(fs) != 1 {
				t.Errorf("failure %d (%s): %d findings", code.Code, code.Name, len(fs))
				continue
			}
			checkFinding(t, si, fs[0])
			dist[fs[0].Scenario]++
		case code.Code == 0:
			if len(fs) != 0 {
				t.Errorf("success: %v", scenarios(fs))
			}
		default:
			if len(fs) != 0 && !ptaCodes[code.Code] && !proofUpCodes[code.Code] { // registration codes say what happened by themselves
				t.Errorf("kind %s code %d (%s) raised %v on a bare record", code.Kind, code.Code, code.Name, scenarios(fs))
			}
			flaggedSI := realistic(code.Code, flagged())
			if fs := e.Evaluate(Input{SignIn: flaggedSI, Window: 48 * time.Hour}); len(fs) != 1 {
				t.Errorf("flagged code %d: %v, want one finding", code.Code, scenarios(fs))
			}
		}
	}
	t.Logf("scenario of each catalogue failure code on a bare record: %v", dist)
}

func TestConfigDefaults(t *testing.T) {
	c := Config{FailureThreshold: 7}.WithDefaults()
	if c.FailureThreshold != 7 || c.RepeatedFailures != 5 || c.ManyFailures != 10 || c.RiskySuccessLevel != "high" {
		t.Fatalf("defaults: %+v", c)
	}
	c = Config{RepeatedFailures: 3, ManyFailures: 30, RiskySuccessLevel: "Medium"}.WithDefaults()
	if c.RepeatedFailures != 3 || c.ManyFailures != 30 || c.RiskySuccessLevel != "medium" {
		t.Fatalf("explicit values lost: %+v", c)
	}
	// A lower risky-success level reports medium-risk successes.
	si := realistic(0, risk("medium", "none", "none"), mfa())
	strict := NewEngine(Config{RiskySuccessLevel: "medium"}, catalog.Default())
	if fs := strict.Evaluate(Input{SignIn: si}); len(fs) != 1 || fs[0].Scenario != ScenarioSuccessfulSignIn {
		t.Errorf("medium level: %v", scenarios(fs))
	}
	if fs := NewEngine(Config{}, catalog.Default()).Evaluate(Input{SignIn: si}); len(fs) != 0 {
		t.Errorf("default level reported a medium-risk MFA success: %v", scenarios(fs))
	}
}

func TestConditionsAsBitSet(t *testing.T) {
	// Old records send conditionsSatisfied as an integer: 1|2|16 =
	// application, users, clientType.
	si := realistic(53003, client("POP3"), ca("failure", policy("Block legacy authentication", "failure", "19", "Block")))
	fs := evalCase(t, scenarioCase{si: si})
	if len(fs) != 1 || fs[0].Scenario != ScenarioLegacyAuthentication || !strings.Contains(fs[0].Summary, "application, users, clientType") {
		t.Fatalf("%v %s", scenarios(fs), fs[0].Summary)
	}
}

// TestReferencedCodesAreCatalogued: every code a rule names is in the
// catalogue, so findings can quote its name, meaning and remediation.
func TestReferencedCodesAreCatalogued(t *testing.T) {
	cat := catalog.Default()
	sets := map[string]map[int]bool{
		"caGrantCodes": caGrantCodes, "deviceAuthCodes": deviceAuthCodes, "mfaCodes": mfaCodes, "riskCodes": riskCodes,
		"mfaPromptCodes": mfaPromptCodes, "proofUpCodes": proofUpCodes, "credentialCodes": credentialCodes,
		"appConfigurationCodes": appConfigurationCodes, "serviceProviderCodes": serviceProviderCodes,
		"ptaCodes": ptaCodes, "seamlessSSOCodes": seamlessSSOCodes,
		"others": {53003: true, 530032: true, 530035: true, 500212: true, 500213: true, 50053: true},
	}
	for name, set := range sets {
		for code := range set {
			if _, ok := cat.Lookup(code); !ok {
				t.Errorf("%s: code %d is not in the catalogue", name, code)
			}
		}
	}
}

// BenchmarkEvaluate: the common case, a success listing a dozen evaluated
// policies, and a CA block.
func BenchmarkEvaluate(b *testing.B) {
	var ps []schemas.AppliedPolicy
	for i := range 12 {
		ps = append(ps, policy(fmt.Sprintf("Policy %d", i), "notApplied", "application", "Mfa"))
	}
	cat := catalog.Default()
	e := NewEngine(Config{FailureThreshold: 10}, cat)
	for _, c := range []struct {
		name string
		si   *schemas.SignIn
	}{
		{"success", realistic(0, ca("notApplied", ps...))},
		{"ca_block", realistic(53003, ca("failure", append([]schemas.AppliedPolicy{blockOutsideEU}, ps...)...))},
	} {
		in := Input{SignIn: c.si, IsFailure: cat.IsFailure(c.si.Status.ErrorCode), Failures48h: 1, Window: 48 * time.Hour}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				e.Evaluate(in)
			}
		})
	}
}
