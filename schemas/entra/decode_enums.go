package entra

import (
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/signindiag/signindiag/schemas"
)

// enum puts the known values of one Graph enumeration in Graph's casing,
// whatever casing, spaces, hyphens or underscores the source used
// ("Member" → "member", "Primary Refresh Token" → "primaryRefreshToken").
// Unknown values pass through unchanged: Entra adds values over time.
type enum struct {
	exact *table[string]
	fold  *table[string]
}

func newEnum(values ...string) *enum {
	exact := map[string]string{}
	fold := map[string]string{}
	for _, v := range values {
		exact[v] = v
		f := string(foldEnum(nil, []byte(v)))
		if old, dup := fold[f]; dup && old != v {
			panic("schemas: enum values " + old + " and " + v + " fold alike")
		}
		fold[f] = v
	}
	return &enum{exact: newTable(exact), fold: newTable(fold)}
}

// canon returns the canonical spelling of b, or "" when b is not a known
// value.
func (e *enum) canon(b []byte) string {
	if s, ok := e.exact.get(b); ok {
		return s
	}
	if len(b) > 64 {
		return ""
	}
	var buf [64]byte
	if s, ok := e.fold.get(foldEnum(buf[:0], b)); ok {
		return s
	}
	return ""
}

// normalise returns the canonical spelling of s, or s.
func (e *enum) normalise(s string) string {
	if c := e.canon([]byte(s)); c != "" {
		return c
	}
	return s
}

func foldEnum(dst, b []byte) []byte {
	for _, c := range b {
		switch {
		case 'A' <= c && c <= 'Z':
			dst = append(dst, c+'a'-'A')
		case c == ' ' || c == '_' || c == '-':
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// The enumerations of Graph's signIn (beta) the decoders normalise.
var (
	enumUserType                = newEnum("member", "guest", "unknownFutureValue")
	enumConditionalAccessStatus = newEnum("success", "failure", "notApplied", "unknownFutureValue")
	enumPolicyResult            = newEnum("success", "failure", "notApplied", "notEnabled", "unknown", "unknownFutureValue",
		"reportOnlySuccess", "reportOnlyFailure", "reportOnlyNotApplied", "reportOnlyInterrupted")
	enumRiskLevel  = newEnum("none", "low", "medium", "high", "hidden", "unknownFutureValue")
	enumRiskState  = newEnum("none", "confirmedSafe", "remediated", "dismissed", "atRisk", "confirmedCompromised", "unknownFutureValue")
	enumRiskDetail = newEnum("none", "adminGeneratedTemporaryPassword", "userPerformedSecuredPasswordChange",
		"userPerformedSecuredPasswordReset", "adminConfirmedSigninSafe", "aiConfirmedSigninSafe",
		"userPassedMFADrivenByRiskBasedPolicy", "adminDismissedAllRiskForUser", "adminConfirmedSigninCompromised",
		"hidden", "adminConfirmedUserCompromised", "unknownFutureValue", "adminConfirmedServicePrincipalCompromised",
		"adminDismissedAllRiskForServicePrincipal", "m365DAdminDismissedDetection", "userChangedPasswordOnPremises",
		"adminDismissedRiskForSignIn", "adminConfirmedAccountSafe")
	enumAuthenticationRequirement = newEnum("singleFactorAuthentication", "multiFactorAuthentication")
	enumCrossTenantAccessType     = newEnum("none", "b2bCollaboration", "b2bDirectConnect", "microsoftSupport",
		"serviceProvider", "unknownFutureValue", "passthrough")
	enumClientCredentialType = newEnum("none", "clientSecret", "clientAssertion", "federatedIdentityCredential",
		"managedIdentity", "certificate", "unknownFutureValue")
	enumIncomingTokenType = newEnum("none", "primaryRefreshToken", "saml11", "saml20", "unknownFutureValue",
		"remoteDesktopToken", "refreshToken")
	enumAuthenticationProtocol = newEnum("none", "oAuth2", "ropc", "wsFederation", "saml20", "deviceCode",
		"unknownFutureValue", "authenticationTransfer", "nativeAuth")
	enumTokenIssuerType = newEnum("AzureAD", "ADFederationServices", "UnknownFutureValue", "AzureADBackupAuth",
		"ADFederationServicesMFAAdapter", "NPSExtension")
	enumSignInEventType      = newEnum("interactiveUser", "nonInteractiveUser", "servicePrincipal", "managedIdentity", "unknownFutureValue")
	enumSignInIdentifierType = newEnum("userPrincipalName", "phoneNumber", "proxyAddress", "qrCode",
		"onPremisesUserPrincipalName", "unknownFutureValue")
	enumMsiType     = newEnum("none", "userAssigned", "systemAssigned", "unknownFutureValue")
	enumNetworkType = newEnum("intranet", "extranet", "namedNetwork", "trusted", "trustedNamedLocation", "unknownFutureValue")
	enumCondition   = newEnum(conditionNames[:]...)
	enumCategory    = newEnum(schemas.CategoryInteractive, schemas.CategoryNonInteractive, schemas.CategoryServicePrincipal, schemas.CategoryManagedIdentity,
		categoryMicrosoftServicePrincipal, categoryADFS)
)

// Categories beyond the four signin.go names.
const (
	categoryMicrosoftServicePrincipal = "MicrosoftServicePrincipalSignInLogs"
	categoryADFS                      = "ADFSSignInLogs"
)

// laTables maps Log Analytics table names (the Type column) to categories.
var laTables = newEnum("SigninLogs", "AADNonInteractiveUserSignInLogs", "AADServicePrincipalSignInLogs",
	"AADManagedIdentitySignInLogs", "MicrosoftServicePrincipalSignInLogs", "ADFSSignInLogs")

// normaliseCategory maps a diagnostic-settings category or a Log Analytics
// table name to the category; unknown names pass through.
func normaliseCategory(s string) string {
	if c := enumCategory.canon([]byte(s)); c != "" {
		return c
	}
	switch laTables.canon([]byte(s)) {
	case "SigninLogs":
		return schemas.CategoryInteractive
	case "AADNonInteractiveUserSignInLogs":
		return schemas.CategoryNonInteractive
	case "AADServicePrincipalSignInLogs":
		return schemas.CategoryServicePrincipal
	case "AADManagedIdentitySignInLogs":
		return schemas.CategoryManagedIdentity
	case "MicrosoftServicePrincipalSignInLogs":
		return categoryMicrosoftServicePrincipal
	case "ADFSSignInLogs":
		return categoryADFS
	}
	return s
}

// conditionNames are the members of Graph's flags enumeration
// conditionalAccessConditions in member order: none is 0 and member i
// (from 1) is the bit 1<<(i-1).
var conditionNames = [...]string{"none", "application", "users", "devicePlatform", "location", "clientType",
	"signInRisk", "userRisk", "time", "deviceState", "client", "ipAddressSeenByAzureAD",
	"ipAddressSeenByResourceProvider", "unknownFutureValue", "servicePrincipals", "servicePrincipalRisk",
	"authenticationFlows", "insiderRisk"}

// conditionCache memoises the lists of small bit sets; real records use a
// handful of values.
var conditionCache [1 << 12]atomic.Pointer[string]

// conditionsList expands an integer bit set into Graph's comma list
// (3 → "application,users", 0 → "none"). Bits with no known name are kept
// as one decimal number at the end.
func conditionsList(v uint64) string {
	if v < uint64(len(conditionCache)) {
		if p := conditionCache[v].Load(); p != nil {
			return *p
		}
	}
	var s string
	if v == 0 {
		s = "none"
	} else {
		var b strings.Builder
		rest := v
		for i := 1; i < len(conditionNames); i++ {
			bit := uint64(1) << (i - 1)
			if v&bit != 0 {
				if b.Len() > 0 {
					b.WriteByte(',')
				}
				b.WriteString(conditionNames[i])
				rest &^= bit
			}
		}
		if rest != 0 {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.FormatUint(rest, 10))
		}
		s = b.String()
	}
	if v < uint64(len(conditionCache)) {
		conditionCache[v].Store(&s)
	}
	return s
}

// normaliseConditions turns a conditions value (a comma list in any casing,
// or an integer bit set written as text) into Graph's comma list. Empty
// items are dropped; an item that is a number is read as a bit set too.
func normaliseConditions(s string) string {
	t := strings.TrimSpace(s)
	if t == "" {
		return ""
	}
	if v, err := strconv.ParseUint(t, 10, 64); err == nil {
		return conditionsList(v)
	}
	if conditionsCanonical([]byte(t)) {
		return t
	}
	var b strings.Builder
	for part := range strings.SplitSeq(t, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if v, err := strconv.ParseUint(part, 10, 64); err == nil {
			part = conditionsList(v)
		} else if c := enumCondition.canon([]byte(part)); c != "" {
			part = c
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(part)
	}
	return b.String()
}

// conditionsCanonical reports a list already in Graph's form: known names
// in Graph's casing, no spaces, no empty items.
func conditionsCanonical(t []byte) bool {
	if len(t) == 0 {
		return false
	}
	for rest := t; ; {
		part := rest
		rest = nil
		for i, c := range part {
			if c == ',' {
				part, rest = part[:i], part[i+1:]
				break
			}
		}
		if len(part) == 0 || enumCondition.canon(part) != string(part) {
			return false
		}
		if rest == nil {
			return true
		}
	}
}

// normaliseEnums puts the known enum values of a sign-in decoded by other
// means (encoding/json) in Graph's casing, as the decoder does while
// reading.
func normaliseEnums(si *schemas.SignIn) {
	si.UserType = enumUserType.normalise(si.UserType)
	si.SignInIdentifierType = enumSignInIdentifierType.normalise(si.SignInIdentifierType)
	for i, t := range si.SignInEventTypes {
		si.SignInEventTypes[i] = enumSignInEventType.normalise(t)
	}
	si.ClientCredentialType = enumClientCredentialType.normalise(si.ClientCredentialType)
	si.CrossTenantAccessType = enumCrossTenantAccessType.normalise(si.CrossTenantAccessType)
	if c := caStatus([]byte(si.ConditionalAccessStatus)); c != "" {
		si.ConditionalAccessStatus = c
	}
	for i := range si.AppliedConditionalAccessPolicies {
		p := &si.AppliedConditionalAccessPolicies[i]
		p.Result = enumPolicyResult.normalise(p.Result)
		p.ConditionsSatisfied = normaliseConditions(p.ConditionsSatisfied)
		p.ConditionsNotSatisfied = normaliseConditions(p.ConditionsNotSatisfied)
		for j := range p.IncludeRulesSatisfied {
			r := &p.IncludeRulesSatisfied[j]
			r.ConditionalAccessCondition = enumCondition.normalise(r.ConditionalAccessCondition)
		}
		for j := range p.ExcludeRulesSatisfied {
			r := &p.ExcludeRulesSatisfied[j]
			r.ConditionalAccessCondition = enumCondition.normalise(r.ConditionalAccessCondition)
		}
	}
	si.AuthenticationRequirement = enumAuthenticationRequirement.normalise(si.AuthenticationRequirement)
	si.AuthenticationProtocol = enumAuthenticationProtocol.normalise(si.AuthenticationProtocol)
	si.IncomingTokenType = enumIncomingTokenType.normalise(si.IncomingTokenType)
	si.TokenIssuerType = enumTokenIssuerType.normalise(si.TokenIssuerType)
	si.RiskDetail = enumRiskDetail.normalise(si.RiskDetail)
	si.RiskLevelAggregated = enumRiskLevel.normalise(si.RiskLevelAggregated)
	si.RiskLevelDuringSignIn = enumRiskLevel.normalise(si.RiskLevelDuringSignIn)
	si.RiskState = enumRiskState.normalise(si.RiskState)
	for i := range si.NetworkLocationDetails {
		n := &si.NetworkLocationDetails[i]
		n.NetworkType = enumNetworkType.normalise(n.NetworkType)
	}
	if mi := si.ManagedServiceIdentity; mi != nil {
		mi.MsiType = enumMsiType.normalise(mi.MsiType)
	}
}

// conditionalAccessStatuses are the members of Graph's
// conditionalAccessStatus in order.
var conditionalAccessStatuses = [...]string{"success", "failure", "notApplied", "unknownFutureValue"}

// caStatus puts a conditionalAccessStatus in Graph's casing, accepting the
// member's index as old Log Analytics rows send it; "" when unknown.
func caStatus(b []byte) string {
	if c := enumConditionalAccessStatus.canon(b); c != "" {
		return c
	}
	if t := trimSpace(b); len(t) == 1 && '0' <= t[0] && t[0] <= '3' {
		return conditionalAccessStatuses[t[0]-'0']
	}
	return ""
}
