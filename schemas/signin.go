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

// SignIn is the normalised sign-in: the Microsoft Graph signIn resource's
// field names (camelCase), so API consumers see what Graph shows them. Enum
// values stay open strings: Entra adds values over time.
type SignIn struct {
	ID                                string                 `json:"id"`
	CreatedDateTime                   time.Time              `json:"createdDateTime"`
	Category                          string                 `json:"category,omitempty"`
	UserDisplayName                   string                 `json:"userDisplayName,omitempty"`
	UserPrincipalName                 string                 `json:"userPrincipalName,omitempty"`
	UserID                            string                 `json:"userId,omitempty"`
	UserType                          string                 `json:"userType,omitempty"`
	AppID                             string                 `json:"appId,omitempty"`
	AppDisplayName                    string                 `json:"appDisplayName,omitempty"`
	ResourceID                        string                 `json:"resourceId,omitempty"`
	ResourceDisplayName               string                 `json:"resourceDisplayName,omitempty"`
	IPAddress                         string                 `json:"ipAddress,omitempty"`
	ClientAppUsed                     string                 `json:"clientAppUsed,omitempty"`
	UserAgent                         string                 `json:"userAgent,omitempty"`
	IsInteractive                     bool                   `json:"isInteractive"`
	CorrelationID                     string                 `json:"correlationId,omitempty"`
	OriginalRequestID                 string                 `json:"originalRequestId,omitempty"`
	Status                            Status                 `json:"status"`
	ConditionalAccessStatus           string                 `json:"conditionalAccessStatus,omitempty"`
	AppliedConditionalAccessPolicies  []AppliedPolicy        `json:"appliedConditionalAccessPolicies,omitempty"`
	AuthenticationRequirement         string                 `json:"authenticationRequirement,omitempty"`
	AuthenticationRequirementPolicies []RequirementPolicy    `json:"authenticationRequirementPolicies,omitempty"`
	AuthenticationDetails             []AuthenticationDetail `json:"authenticationDetails,omitempty"`
	DeviceDetail                      DeviceDetail           `json:"deviceDetail"`
	Location                          Location               `json:"location"`
	RiskDetail                        string                 `json:"riskDetail,omitempty"`
	RiskLevelAggregated               string                 `json:"riskLevelAggregated,omitempty"`
	RiskLevelDuringSignIn             string                 `json:"riskLevelDuringSignIn,omitempty"`
	RiskState                         string                 `json:"riskState,omitempty"`
	RiskEventTypesV2                  []string               `json:"riskEventTypes_v2,omitempty"`
	ServicePrincipalID                string                 `json:"servicePrincipalId,omitempty"`
	ServicePrincipalName              string                 `json:"servicePrincipalName,omitempty"`
	HomeTenantID                      string                 `json:"homeTenantId,omitempty"`
	ResourceTenantID                  string                 `json:"resourceTenantId,omitempty"`
	CrossTenantAccessType             string                 `json:"crossTenantAccessType,omitempty"`
	FlaggedForReview                  bool                   `json:"flaggedForReview"`
}

// Status is Graph's signInStatus: errorCode 0 means success.
type Status struct {
	ErrorCode         int    `json:"errorCode"`
	FailureReason     string `json:"failureReason,omitempty"`
	AdditionalDetails string `json:"additionalDetails,omitempty"`
}

// AppliedPolicy is one Conditional Access policy evaluated for the sign-in.
type AppliedPolicy struct {
	ID                      string   `json:"id,omitempty"`
	DisplayName             string   `json:"displayName,omitempty"`
	EnforcedGrantControls   []string `json:"enforcedGrantControls,omitempty"`
	EnforcedSessionControls []string `json:"enforcedSessionControls,omitempty"`
	Result                  string   `json:"result,omitempty"`
}

// RequirementPolicy says what asked for the authentication requirement.
type RequirementPolicy struct {
	RequirementProvider string `json:"requirementProvider,omitempty"`
	Detail              string `json:"detail,omitempty"`
}

// AuthenticationDetail is one step of the authentication.
type AuthenticationDetail struct {
	AuthenticationMethod           string `json:"authenticationMethod,omitempty"`
	AuthenticationMethodDetail     string `json:"authenticationMethodDetail,omitempty"`
	AuthenticationStepRequirement  string `json:"authenticationStepRequirement,omitempty"`
	AuthenticationStepResultDetail string `json:"authenticationStepResultDetail,omitempty"`
	Succeeded                      bool   `json:"succeeded"`
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
	City            string `json:"city,omitempty"`
	State           string `json:"state,omitempty"`
	CountryOrRegion string `json:"countryOrRegion,omitempty"`
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

// Failed reports whether Entra ended the sign-in with an error code. Whether
// that code counts as a failure (not an interrupt) is the catalogue's call.
func (s *SignIn) Failed() bool { return s.Status.ErrorCode != 0 }
