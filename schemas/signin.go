// Package schemas is the model: the value types every stage shares (the
// normalised sign-in, the flag event, the finding, the internal topic's
// event). It imports nothing of the project's own, so every other package
// may depend on it. The decoders that turn Entra's wire shapes into these
// types are package schemas/entra.
package schemas

import (
	"strings"
	"time"
)

// Sign-in categories, as Azure Monitor's diagnostic settings name them.
const (
	CategoryInteractive      = "SignInLogs"
	CategoryNonInteractive   = "NonInteractiveUserSignInLogs"
	CategoryServicePrincipal = "ServicePrincipalSignInLogs"
	CategoryManagedIdentity  = "ManagedIdentitySignInLogs"
)

// SignIn is the normalised sign-in: a superset of the Microsoft Graph
// signIn resource (v1.0 and beta) and of the Event Hubs record's
// properties, with Graph's field names (camelCase), so API consumers see
// what Graph shows them. Enum values stay open strings (Entra adds values
// over time); the decoders put the known ones in Graph's casing.
type SignIn struct {
	ID              string    `json:"id" msg:"a"`
	CreatedDateTime time.Time `json:"createdDateTime" msg:"b"`
	// Category is the diagnostic-settings category the record came from
	// (SignInLogs, NonInteractiveUserSignInLogs, …); derived for Graph
	// input. A sign-in is identified by (Category, ID).
	Category string `json:"category,omitempty" msg:"c,omitempty"`
	TenantID string `json:"tenantId,omitempty" msg:"d,omitempty"`

	UserDisplayName      string   `json:"userDisplayName,omitempty" msg:"e,omitempty"`
	UserPrincipalName    string   `json:"userPrincipalName,omitempty" msg:"f,omitempty"`
	UserID               string   `json:"userId,omitempty" msg:"g,omitempty"`
	UserType             string   `json:"userType,omitempty" msg:"h,omitempty"`
	SignInIdentifier     string   `json:"signInIdentifier,omitempty" msg:"i,omitempty"`
	SignInIdentifierType string   `json:"signInIdentifierType,omitempty" msg:"j,omitempty"`
	AlternateSignInName  string   `json:"alternateSignInName,omitempty" msg:"k,omitempty"`
	SignInEventTypes     []string `json:"signInEventTypes,omitempty" msg:"l,omitempty"`

	AppID                      string `json:"appId,omitempty" msg:"m,omitempty"`
	AppDisplayName             string `json:"appDisplayName,omitempty" msg:"n,omitempty"`
	ResourceID                 string `json:"resourceId,omitempty" msg:"o,omitempty"`
	ResourceDisplayName        string `json:"resourceDisplayName,omitempty" msg:"p,omitempty"`
	ResourceServicePrincipalID string `json:"resourceServicePrincipalId,omitempty" msg:"q,omitempty"`
	ResourceTenantID           string `json:"resourceTenantId,omitempty" msg:"r,omitempty"`
	HomeTenantID               string `json:"homeTenantId,omitempty" msg:"s,omitempty"`
	HomeTenantName             string `json:"homeTenantName,omitempty" msg:"t,omitempty"`

	IPAddress                     string            `json:"ipAddress,omitempty" msg:"u,omitempty"`
	IPAddressFromResourceProvider string            `json:"ipAddressFromResourceProvider,omitempty" msg:"v,omitempty"`
	AutonomousSystemNumber        int               `json:"autonomousSystemNumber,omitempty" msg:"w,omitempty"`
	Location                      Location          `json:"location" msg:"x"`
	NetworkLocationDetails        []NetworkLocation `json:"networkLocationDetails,omitempty" msg:"y,omitempty"`
	DeviceDetail                  DeviceDetail      `json:"deviceDetail" msg:"z"`
	UserAgent                     string            `json:"userAgent,omitempty" msg:"A,omitempty"`
	ClientAppUsed                 string            `json:"clientAppUsed,omitempty" msg:"B,omitempty"`
	ClientCredentialType          string            `json:"clientCredentialType,omitempty" msg:"C,omitempty"`
	IsInteractive                 bool              `json:"isInteractive" msg:"D"`
	IsTenantRestricted            bool              `json:"isTenantRestricted,omitempty" msg:"E,omitempty"`
	CrossTenantAccessType         string            `json:"crossTenantAccessType,omitempty" msg:"F,omitempty"`

	Status            Status `json:"status" msg:"G"`
	CorrelationID     string `json:"correlationId,omitempty" msg:"H,omitempty"`
	OriginalRequestID string `json:"originalRequestId,omitempty" msg:"I,omitempty"`
	UniqueTokenID     string `json:"uniqueTokenIdentifier,omitempty" msg:"J,omitempty"`
	SessionID         string `json:"sessionId,omitempty" msg:"K,omitempty"`

	ConditionalAccessStatus           string                  `json:"conditionalAccessStatus,omitempty" msg:"L,omitempty"`
	AppliedConditionalAccessPolicies  []AppliedPolicy         `json:"appliedConditionalAccessPolicies,omitempty" msg:"M,omitempty"`
	AuthenticationRequirement         string                  `json:"authenticationRequirement,omitempty" msg:"N,omitempty"`
	AuthenticationRequirementPolicies []RequirementPolicy     `json:"authenticationRequirementPolicies,omitempty" msg:"O,omitempty"`
	AuthenticationDetails             []AuthenticationDetail  `json:"authenticationDetails,omitempty" msg:"P,omitempty"`
	AuthenticationMethodsUsed         []string                `json:"authenticationMethodsUsed,omitempty" msg:"Q,omitempty"`
	AuthenticationProcessingDetails   []KeyValue              `json:"authenticationProcessingDetails,omitempty" msg:"R,omitempty"`
	AuthenticationProtocol            string                  `json:"authenticationProtocol,omitempty" msg:"S,omitempty"`
	IncomingTokenType                 string                  `json:"incomingTokenType,omitempty" msg:"T,omitempty"`
	SessionLifetimePolicies           []SessionLifetimePolicy `json:"sessionLifetimePolicies,omitempty" msg:"U,omitempty"`
	TokenIssuerName                   string                  `json:"tokenIssuerName,omitempty" msg:"V,omitempty"`
	TokenIssuerType                   string                  `json:"tokenIssuerType,omitempty" msg:"W,omitempty"`
	ProcessingTimeInMilliseconds      int                     `json:"processingTimeInMilliseconds,omitempty" msg:"X,omitempty"`

	RiskDetail            string   `json:"riskDetail,omitempty" msg:"Y,omitempty"`
	RiskLevelAggregated   string   `json:"riskLevelAggregated,omitempty" msg:"Z,omitempty"`
	RiskLevelDuringSignIn string   `json:"riskLevelDuringSignIn,omitempty" msg:"aa,omitempty"`
	RiskState             string   `json:"riskState,omitempty" msg:"ab,omitempty"`
	RiskEventTypes        []string `json:"riskEventTypes,omitempty" msg:"ac,omitempty"`
	RiskEventTypesV2      []string `json:"riskEventTypes_v2,omitempty" msg:"ad,omitempty"`

	ServicePrincipalID                   string           `json:"servicePrincipalId,omitempty" msg:"ae,omitempty"`
	ServicePrincipalName                 string           `json:"servicePrincipalName,omitempty" msg:"af,omitempty"`
	ServicePrincipalCredentialKeyID      string           `json:"servicePrincipalCredentialKeyId,omitempty" msg:"ag,omitempty"`
	ServicePrincipalCredentialThumbprint string           `json:"servicePrincipalCredentialThumbprint,omitempty" msg:"ah,omitempty"`
	FederatedCredentialID                string           `json:"federatedCredentialId,omitempty" msg:"ai,omitempty"`
	ManagedServiceIdentity               *ManagedIdentity `json:"managedServiceIdentity,omitempty" msg:"aj,omitempty"`
	AzureResourceID                      string           `json:"azureResourceId,omitempty" msg:"ak,omitempty"`

	FlaggedForReview bool `json:"flaggedForReview" msg:"al"`
}

// Status is Graph's signInStatus: errorCode 0 means success.
type Status struct {
	ErrorCode         int    `json:"errorCode" msg:"a"`
	FailureReason     string `json:"failureReason,omitempty" msg:"b,omitempty"`
	AdditionalDetails string `json:"additionalDetails,omitempty" msg:"c,omitempty"`
}

// AppliedPolicy is one Conditional Access policy evaluated for the sign-in.
type AppliedPolicy struct {
	ID                          string   `json:"id,omitempty" msg:"a,omitempty"`
	DisplayName                 string   `json:"displayName,omitempty" msg:"b,omitempty"`
	EnforcedGrantControls       []string `json:"enforcedGrantControls,omitempty" msg:"c,omitempty"`
	EnforcedSessionControls     []string `json:"enforcedSessionControls,omitempty" msg:"d,omitempty"`
	SessionControlsNotSatisfied []string `json:"sessionControlsNotSatisfied,omitempty" msg:"e,omitempty"`
	// Result: success, failure, notApplied, notEnabled, reportOnly…
	Result string `json:"result,omitempty" msg:"f,omitempty"`
	// ConditionsSatisfied and ConditionsNotSatisfied are comma lists of
	// conditionalAccessConditions flags ("application,users"); old
	// records send an integer bit set, which the decoders expand.
	ConditionsSatisfied    string                  `json:"conditionsSatisfied,omitempty" msg:"g,omitempty"`
	ConditionsNotSatisfied string                  `json:"conditionsNotSatisfied,omitempty" msg:"h,omitempty"`
	IncludeRulesSatisfied  []RuleSatisfied         `json:"includeRulesSatisfied,omitempty" msg:"i,omitempty"`
	ExcludeRulesSatisfied  []RuleSatisfied         `json:"excludeRulesSatisfied,omitempty" msg:"j,omitempty"`
	AuthenticationStrength *AuthenticationStrength `json:"authenticationStrength,omitempty" msg:"k,omitempty"`
}

// RuleSatisfied names a policy rule that matched.
type RuleSatisfied struct {
	ConditionalAccessCondition string `json:"conditionalAccessCondition,omitempty" msg:"a,omitempty"`
	RuleSatisfied              string `json:"ruleSatisfied,omitempty" msg:"b,omitempty"`
}

// AuthenticationStrength of a policy.
type AuthenticationStrength struct {
	AuthenticationStrengthID     string `json:"authenticationStrengthId,omitempty" msg:"a,omitempty"`
	DisplayName                  string `json:"displayName,omitempty" msg:"b,omitempty"`
	AuthenticationStrengthResult string `json:"authenticationStrengthResult,omitempty" msg:"c,omitempty"`
}

// RequirementPolicy says what asked for the authentication requirement.
type RequirementPolicy struct {
	RequirementProvider string `json:"requirementProvider,omitempty" msg:"a,omitempty"`
	Detail              string `json:"detail,omitempty" msg:"b,omitempty"`
}

// AuthenticationDetail is one step of the authentication.
type AuthenticationDetail struct {
	AuthenticationStepDateTime     time.Time `json:"authenticationStepDateTime,omitzero" msg:"a,omitzero"`
	AuthenticationMethod           string    `json:"authenticationMethod,omitempty" msg:"b,omitempty"`
	AuthenticationMethodDetail     string    `json:"authenticationMethodDetail,omitempty" msg:"c,omitempty"`
	AuthenticationStepRequirement  string    `json:"authenticationStepRequirement,omitempty" msg:"d,omitempty"`
	AuthenticationStepResultDetail string    `json:"authenticationStepResultDetail,omitempty" msg:"e,omitempty"`
	Succeeded                      bool      `json:"succeeded" msg:"f"`
}

// KeyValue is Graph's keyValue.
type KeyValue struct {
	Key   string `json:"key" msg:"a"`
	Value string `json:"value" msg:"b"`
}

// SessionLifetimePolicy says why a session or token expired.
type SessionLifetimePolicy struct {
	ExpirationRequirement string `json:"expirationRequirement,omitempty" msg:"a,omitempty"`
	Detail                string `json:"detail,omitempty" msg:"b,omitempty"`
}

// NetworkLocation is a named network the sign-in came from.
type NetworkLocation struct {
	NetworkType  string   `json:"networkType,omitempty" msg:"a,omitempty"`
	NetworkNames []string `json:"networkNames,omitempty" msg:"b,omitempty"`
}

// ManagedIdentity describes a managed identity's sign-in.
type ManagedIdentity struct {
	MsiType              string `json:"msiType,omitempty" msg:"a,omitempty"`
	AssociatedResourceID string `json:"associatedResourceId,omitempty" msg:"b,omitempty"`
	FederatedTokenID     string `json:"federatedTokenId,omitempty" msg:"c,omitempty"`
	FederatedTokenIssuer string `json:"federatedTokenIssuer,omitempty" msg:"d,omitempty"`
}

// DeviceDetail describes the client device.
type DeviceDetail struct {
	DeviceID        string `json:"deviceId,omitempty" msg:"a,omitempty"`
	DisplayName     string `json:"displayName,omitempty" msg:"b,omitempty"`
	OperatingSystem string `json:"operatingSystem,omitempty" msg:"c,omitempty"`
	Browser         string `json:"browser,omitempty" msg:"d,omitempty"`
	IsCompliant     bool   `json:"isCompliant" msg:"e"`
	IsManaged       bool   `json:"isManaged" msg:"f"`
	TrustType       string `json:"trustType,omitempty" msg:"g,omitempty"`
}

// Location is Entra's best-effort geo-IP location.
type Location struct {
	City            string          `json:"city,omitempty" msg:"a,omitempty"`
	State           string          `json:"state,omitempty" msg:"b,omitempty"`
	CountryOrRegion string          `json:"countryOrRegion,omitempty" msg:"c,omitempty"`
	GeoCoordinates  *GeoCoordinates `json:"geoCoordinates,omitempty" msg:"d,omitempty"`
}

// GeoCoordinates of a location.
type GeoCoordinates struct {
	Latitude  float64  `json:"latitude" msg:"a"`
	Longitude float64  `json:"longitude" msg:"b"`
	Altitude  *float64 `json:"altitude,omitempty" msg:"c,omitempty"`
}

// UserKey is the identity windows, partitions and storage group a sign-in
// by: the user's object id, or for sign-ins without one the UPN, or for
// workload identities the service principal. Lower-cased because Entra's
// ids and UPNs compare case-insensitively.
func (s *SignIn) UserKey() string {
	return UserKey(s.UserID, s.UserPrincipalName, s.ServicePrincipalID)
}

// UserKey picks the grouping identity from the candidates a record carries.
func UserKey(userID, upn, servicePrincipalID string) string {
	switch {
	case userID != "":
		return strings.ToLower(userID)
	case upn != "":
		return strings.ToLower(upn)
	case servicePrincipalID != "":
		return "sp:" + strings.ToLower(servicePrincipalID)
	}
	return ""
}

// Identity is what makes a sign-in unique: Entra's request id within its
// category. Re-emitted versions share it.
func (s *SignIn) Identity() string { return s.Category + "/" + s.ID }

// Failed reports whether Entra ended the sign-in with an error code. Whether
// that code counts as a failure (not an interrupt) is the catalogue's call.
func (s *SignIn) Failed() bool { return s.Status.ErrorCode != 0 }
