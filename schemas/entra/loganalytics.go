package entra

// Log Analytics (Sentinel) tables SigninLogs, AADNonInteractiveUserSignInLogs,
// AADServicePrincipalSignInLogs, AADManagedIdentitySignInLogs and
// MicrosoftServicePrincipalSignInLogs name their columns in PascalCase. Most
// are Graph's names with a capital first letter, which the field lookup
// matches by itself; these are the ones that differ.
//
// "dynamic" columns (Status, DeviceDetail, LocationDetails,
// ConditionalAccessPolicies, AuthenticationDetails, …) arrive as JSON or as
// JSON-encoded strings; every reader of an object or array accepts both.
var logAnalyticsColumns = map[string]uint8{
	"timeGenerated":             fTime,                             // time the row was stored; fallback for createdDateTime
	"locationDetails":           fLocation,                         // Graph's location object
	"conditionalAccessPolicies": fAppliedConditionalAccessPolicies, // appliedConditionalAccessPolicies
	"resourceIdentity":          fResourceID,                       // the resource app id (ResourceId is the log's own path)
	"aadTenantId":               fTenantID,                         // Entra tenant (TenantId is the workspace)
}

// logAnalyticsExactColumns match only with this casing: their lower-case
// forms are Graph or Azure Monitor members that mean something else.
var logAnalyticsExactColumns = map[string]uint8{
	"TenantId":          fIgnore,   // the Log Analytics workspace, not the Entra tenant
	"Location":          fCountry,  // two-letter country; LocationDetails is the object
	"Type":              fLAType,   // table name: SigninLogs, AADNonInteractiveUserSignInLogs, …
	"AADTenantId":       fTenantID, // Entra tenant
	"IPAddress":         fIPAddress,
	"RiskEventTypes_V2": fRiskEventTypesV2,
}
