// Package schemas holds the value types every stage shares: the normalised
// sign-in, the flag event, the finding, and the decoders that turn Entra's
// wire shapes into them. It imports nothing of the project's own, so every
// other package may depend on it.
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
	ID              string    `json:"id"`
	CreatedDateTime time.Time `json:"createdDateTime"`
	// Category is the diagnostic-settings category the record came from
	// (SignInLogs, NonInteractiveUserSignInLogs, …); derived for Graph
	// input. A sign-in is identified by (Category, ID).
	Category string `json:"category,omitempty"`
	TenantID string `json:"tenantId,omitempty"`

	UserDisplayName      string   `json:"userDisplayName,omitempty"`
	UserPrincipalName    string   `json:"userPrincipalName,omitempty"`
	UserID               string   `json:"userId,omitempty"`
	UserType             string   `json:"userType,omitempty"`
	SignInIdentifier     string   `json:"signInIdentifier,omitempty"`
	SignInIdentifierType string   `json:"signInIdentifierType,omitempty"`
	AlternateSignInName  string   `json:"alternateSignInName,omitempty"`
	SignInEventTypes     []string `json:"signInEventTypes,omitempty"`

	AppID                      string `json:"appId,omitempty"`
	AppDisplayName             string `json:"appDisplayName,omitempty"`
	ResourceID                 string `json:"resourceId,omitempty"`
	ResourceDisplayName        string `json:"resourceDisplayName,omitempty"`
	ResourceServicePrincipalID string `json:"resourceServicePrincipalId,omitempty"`
	ResourceTenantID           string `json:"resourceTenantId,omitempty"`
	HomeTenantID               string `json:"homeTenantId,omitempty"`
	HomeTenantName             string `json:"homeTenantName,omitempty"`

	IPAddress                     string            `json:"ipAddress,omitempty"`
	IPAddressFromResourceProvider string            `json:"ipAddressFromResourceProvider,omitempty"`
	AutonomousSystemNumber        int               `json:"autonomousSystemNumber,omitempty"`
	Location                      Location          `json:"location"`
	NetworkLocationDetails        []NetworkLocation `json:"networkLocationDetails,omitempty"`
	DeviceDetail                  DeviceDetail      `json:"deviceDetail"`
	UserAgent                     string            `json:"userAgent,omitempty"`
	ClientAppUsed                 string            `json:"clientAppUsed,omitempty"`
	ClientCredentialType          string            `json:"clientCredentialType,omitempty"`
	IsInteractive                 bool              `json:"isInteractive"`
	IsTenantRestricted            bool              `json:"isTenantRestricted,omitempty"`
	CrossTenantAccessType         string            `json:"crossTenantAccessType,omitempty"`

	Status            Status `json:"status"`
	CorrelationID     string `json:"correlationId,omitempty"`
	OriginalRequestID string `json:"originalRequestId,omitempty"`
	UniqueTokenID     string `json:"uniqueTokenIdentifier,omitempty"`
	SessionID         string `json:"sessionId,omitempty"`

	ConditionalAccessStatus           string                  `json:"conditionalAccessStatus,omitempty"`
	AppliedConditionalAccessPolicies  []AppliedPolicy         `json:"appliedConditionalAccessPolicies,omitempty"`
	AuthenticationRequirement         string                  `json:"authenticationRequirement,omitempty"`
	AuthenticationRequirementPolicies []RequirementPolicy     `json:"authenticationRequirementPolicies,omitempty"`
	AuthenticationDetails             []AuthenticationDetail  `json:"authenticationDetails,omitempty"`
	AuthenticationMethodsUsed         []string                `json:"authenticationMethodsUsed,omitempty"`
	AuthenticationProcessingDetails   []KeyValue              `json:"authenticationProcessingDetails,omitempty"`
	AuthenticationProtocol            string                  `json:"authenticationProtocol,omitempty"`
	IncomingTokenType                 string                  `json:"incomingTokenType,omitempty"`
	SessionLifetimePolicies           []SessionLifetimePolicy `json:"sessionLifetimePolicies,omitempty"`
	TokenIssuerName                   string                  `json:"tokenIssuerName,omitempty"`
	TokenIssuerType                   string                  `json:"tokenIssuerType,omitempty"`
	ProcessingTimeInMilliseconds      int                     `json:"processingTimeInMilliseconds,omitempty"`

	RiskDetail            string   `json:"riskDetail,omitempty"`
	RiskLevelAggregated   string   `json:"riskLevelAggregated,omitempty"`
	RiskLevelDuringSignIn string   `json:"riskLevelDuringSignIn,omitempty"`
	RiskState             string   `json:"riskState,omitempty"`
	RiskEventTypes        []string `json:"riskEventTypes,omitempty"`
	RiskEventTypesV2      []string `json:"riskEventTypes_v2,omitempty"`

	ServicePrincipalID                   string           `json:"servicePrincipalId,omitempty"`
	ServicePrincipalName                 string           `json:"servicePrincipalName,omitempty"`
	ServicePrincipalCredentialKeyID      string           `json:"servicePrincipalCredentialKeyId,omitempty"`
	ServicePrincipalCredentialThumbprint string           `json:"servicePrincipalCredentialThumbprint,omitempty"`
	FederatedCredentialID                string           `json:"federatedCredentialId,omitempty"`
	ManagedServiceIdentity               *ManagedIdentity `json:"managedServiceIdentity,omitempty"`
	AzureResourceID                      string           `json:"azureResourceId,omitempty"`

	FlaggedForReview bool `json:"flaggedForReview"`
}

// Status is Graph's signInStatus: errorCode 0 means success.
type Status struct {
	ErrorCode         int    `json:"errorCode"`
	FailureReason     string `json:"failureReason,omitempty"`
	AdditionalDetails string `json:"additionalDetails,omitempty"`
}

// AppliedPolicy is one Conditional Access policy evaluated for the sign-in.
type AppliedPolicy struct {
	ID                          string   `json:"id,omitempty"`
	DisplayName                 string   `json:"displayName,omitempty"`
	EnforcedGrantControls       []string `json:"enforcedGrantControls,omitempty"`
	EnforcedSessionControls     []string `json:"enforcedSessionControls,omitempty"`
	SessionControlsNotSatisfied []string `json:"sessionControlsNotSatisfied,omitempty"`
	// Result: success, failure, notApplied, notEnabled, reportOnly…
	Result string `json:"result,omitempty"`
	// ConditionsSatisfied and ConditionsNotSatisfied are comma lists of
	// conditionalAccessConditions flags ("application,users"); old
	// records send an integer bit set, which the decoders expand.
	ConditionsSatisfied    string                  `json:"conditionsSatisfied,omitempty"`
	ConditionsNotSatisfied string                  `json:"conditionsNotSatisfied,omitempty"`
	IncludeRulesSatisfied  []RuleSatisfied         `json:"includeRulesSatisfied,omitempty"`
	ExcludeRulesSatisfied  []RuleSatisfied         `json:"excludeRulesSatisfied,omitempty"`
	AuthenticationStrength *AuthenticationStrength `json:"authenticationStrength,omitempty"`
}

// RuleSatisfied names a policy rule that matched.
type RuleSatisfied struct {
	ConditionalAccessCondition string `json:"conditionalAccessCondition,omitempty"`
	RuleSatisfied              string `json:"ruleSatisfied,omitempty"`
}

// AuthenticationStrength of a policy.
type AuthenticationStrength struct {
	AuthenticationStrengthID     string `json:"authenticationStrengthId,omitempty"`
	DisplayName                  string `json:"displayName,omitempty"`
	AuthenticationStrengthResult string `json:"authenticationStrengthResult,omitempty"`
}

// RequirementPolicy says what asked for the authentication requirement.
type RequirementPolicy struct {
	RequirementProvider string `json:"requirementProvider,omitempty"`
	Detail              string `json:"detail,omitempty"`
}

// AuthenticationDetail is one step of the authentication.
type AuthenticationDetail struct {
	AuthenticationStepDateTime     time.Time `json:"authenticationStepDateTime,omitzero"`
	AuthenticationMethod           string    `json:"authenticationMethod,omitempty"`
	AuthenticationMethodDetail     string    `json:"authenticationMethodDetail,omitempty"`
	AuthenticationStepRequirement  string    `json:"authenticationStepRequirement,omitempty"`
	AuthenticationStepResultDetail string    `json:"authenticationStepResultDetail,omitempty"`
	Succeeded                      bool      `json:"succeeded"`
}

// KeyValue is Graph's keyValue.
type KeyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// SessionLifetimePolicy says why a session or token expired.
type SessionLifetimePolicy struct {
	ExpirationRequirement string `json:"expirationRequirement,omitempty"`
	Detail                string `json:"detail,omitempty"`
}

// NetworkLocation is a named network the sign-in came from.
type NetworkLocation struct {
	NetworkType  string   `json:"networkType,omitempty"`
	NetworkNames []string `json:"networkNames,omitempty"`
}

// ManagedIdentity describes a managed identity's sign-in.
type ManagedIdentity struct {
	MsiType              string `json:"msiType,omitempty"`
	AssociatedResourceID string `json:"associatedResourceId,omitempty"`
	FederatedTokenID     string `json:"federatedTokenId,omitempty"`
	FederatedTokenIssuer string `json:"federatedTokenIssuer,omitempty"`
}

// DeviceDetail describes the client device.
type DeviceDetail struct {
	DeviceID        string `json:"deviceId,omitempty"`
	DisplayName     string `json:"displayName,omitempty"`
	OperatingSystem string `json:"operatingSystem,omitempty"`
	Browser         string `json:"browser,omitempty"`
	IsCompliant     bool   `json:"isCompliant"`
	IsManaged       bool   `json:"isManaged"`
	TrustType       string `json:"trustType,omitempty"`
}

// Location is Entra's best-effort geo-IP location.
type Location struct {
	City            string          `json:"city,omitempty"`
	State           string          `json:"state,omitempty"`
	CountryOrRegion string          `json:"countryOrRegion,omitempty"`
	GeoCoordinates  *GeoCoordinates `json:"geoCoordinates,omitempty"`
}

// GeoCoordinates of a location.
type GeoCoordinates struct {
	Latitude  float64  `json:"latitude"`
	Longitude float64  `json:"longitude"`
	Altitude  *float64 `json:"altitude,omitempty"`
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
