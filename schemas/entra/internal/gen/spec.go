package main

import (
	"reflect"

	"github.com/signindiag/signindiag/schemas"
)

// spec says how the decoders read one type of the model. Most fields need
// nothing here: the reader follows from the field's Go type (defaultReader).
// Fields lists the exceptions: enums, and fields whose value also tells
// the record something (recordMeta).
//
// In a field's code, $f is a pointer to the field (&p.Field) and $n its
// JSON name, quoted; the member function's parameters (p, and Params) are
// in scope.
type spec struct {
	Type   reflect.Type
	Prefix string // of the member ids
	// Member names the member function (default: <type>Member).
	Member string
	// Params are extra parameters of the member function and of the
	// readers; Args passes them on.
	Params, Args string
	// Prologue runs before the switch, for every member.
	Prologue string
	// Before are member ids declared ahead of the fields' (0 is unknown).
	Before []string
	// Fields overrides the reader of a field; skip leaves it undecoded.
	Fields map[string]string
	// Extras are members with no field of their own (Azure Monitor and
	// Log Analytics members the record's fallbacks use).
	Extras []extra
	// CustomFields: the field table (<type>Fields) and the readers are
	// hand-written; only the ids, the name map and the switch are
	// generated.
	CustomFields bool
	// Pointer generates read<Type>Ptr; Stack > 0 generates read<Type>List
	// with a stack array of that many elements.
	Pointer bool
	Stack   int
}

type extra struct {
	Name string // the id is Prefix+Name
	JSON string // comma-separated; "" when only other names reach it (loganalytics.go)
	Code string // "" when the switch does not read it (decoded elsewhere)
}

const skip = "-"

func typeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

var specs = []spec{
	{
		Type: typeOf[schemas.SignIn](), Prefix: "f", Member: "member", CustomFields: true,
		Params:   "rs *recordState, m *recordMeta",
		Before:   []string{"Ignore"},
		Prologue: "\tif id > fIgnore && id != fBatch {\n\t\tm.known = true\n\t}",
		Fields: map[string]string{ // #nosec G101 -- readers of fields named …Token…, not credentials
			"CreatedDateTime": "d.readTime($f, &m.created, &m.badCreated)",
			// The record's category and the Log Analytics table name
			// are weighed in finishRecord.
			"Category":              "d.readCategory(&m.category)",
			"UserType":              "d.readEnum($f, enumUserType)",
			"SignInIdentifierType":  "d.readEnum($f, enumSignInIdentifierType)",
			"SignInEventTypes":      "d.readStrings($n, $f, enumSignInEventType)",
			"ResourceID":            "d.readResourceID($f)",
			"Location":              "d.readLocationOrCountry($f, m)",
			"ClientCredentialType":  "d.readEnum($f, enumClientCredentialType)",
			"CrossTenantAccessType": "d.readEnum($f, enumCrossTenantAccessType)",
			// Old Log Analytics rows send the member's index.
			"ConditionalAccessStatus":   "d.readCAStatus($f)",
			"AuthenticationRequirement": "d.readEnum($f, enumAuthenticationRequirement)",
			"AuthenticationProtocol":    "d.readEnum($f, enumAuthenticationProtocol)",
			"IncomingTokenType":         "d.readEnum($f, enumIncomingTokenType)",
			"TokenIssuerType":           "d.readEnum($f, enumTokenIssuerType)",
			"RiskDetail":                "d.readEnum($f, enumRiskDetail)",
			"RiskLevelAggregated":       "d.readEnum($f, enumRiskLevel)",
			"RiskLevelDuringSignIn":     "d.readEnum($f, enumRiskLevel)",
			"RiskState":                 "d.readEnum($f, enumRiskState)",
		},
		Extras: []extra{
			// Azure Monitor record and Log Analytics row members.
			{Name: "Time", JSON: "time", Code: "d.readTime(&m.time, &m.timeState, &m.badTime)"},
			{Name: "LAType", Code: "d.readCategory(&m.laType)"},
			{Name: "ResultType", JSON: "resultType", Code: "if d.readInt(&m.resultCode) {\n\t\t\tm.resultCodeSet = true\n\t\t}"},
			{Name: "ResultDescription", JSON: "resultDescription", Code: "d.readStr(&m.resultDescription)"},
			{Name: "CallerIPAddress", JSON: "callerIpAddress", Code: "d.readStr(&m.callerIP)"},
			{Name: "Identity", JSON: "identity", Code: "d.readStr(&m.identity)"},
			{Name: "Country", Code: "d.readStr(&m.country)"},
			{Name: "Properties", JSON: "properties", Code: "d.readProperties(rs, m)"},
			// records / value: a batch, at the top of a message (topObject).
			{Name: "Batch", JSON: "records,value"},
		},
	},
	{
		Type: typeOf[schemas.Status](), Prefix: "st",
		Params: "m *recordMeta", Args: "m",
		Fields: map[string]string{
			"ErrorCode": "if d.readInt($f) {\n\t\t\tm.codeSet = true\n\t\t}",
		},
	},
	{Type: typeOf[schemas.DeviceDetail](), Prefix: "dd"},
	{Type: typeOf[schemas.Location](), Prefix: "loc"},
	{Type: typeOf[schemas.GeoCoordinates](), Prefix: "geo", Pointer: true},
	{
		// Real tenants often apply 20–60 policies.
		Type: typeOf[schemas.AppliedPolicy](), Prefix: "pol", Stack: 64,
		Fields: map[string]string{
			"Result":                 "d.readEnum($f, enumPolicyResult)",
			"ConditionsSatisfied":    "d.readConditions($f)",
			"ConditionsNotSatisfied": "d.readConditions($f)",
		},
	},
	{
		// Log Analytics sends the rule objects as JSON strings inside the array.
		Type: typeOf[schemas.RuleSatisfied](), Prefix: "rule", Stack: 16,
		Fields: map[string]string{"ConditionalAccessCondition": "d.readEnum($f, enumCondition)"},
	},
	{Type: typeOf[schemas.AuthenticationStrength](), Prefix: "strength", Pointer: true},
	{Type: typeOf[schemas.RequirementPolicy](), Prefix: "req", Stack: 16},
	{
		Type: typeOf[schemas.AuthenticationDetail](), Prefix: "ad", Stack: 16,
		// Event Hubs' StatusSequence, RequestSequence… are skipped.
		Fields: map[string]string{"AuthenticationStepDateTime": "d.readStepTime($f)"},
	},
	{Type: typeOf[schemas.KeyValue](), Prefix: "kv", Stack: 16},
	{Type: typeOf[schemas.SessionLifetimePolicy](), Prefix: "slp", Stack: 16},
	{
		Type: typeOf[schemas.NetworkLocation](), Prefix: "net", Stack: 16,
		Fields: map[string]string{"NetworkType": "d.readEnum($f, enumNetworkType)"},
	},
	{
		Type: typeOf[schemas.ManagedIdentity](), Prefix: "msi", Pointer: true,
		Fields: map[string]string{"MsiType": "d.readEnum($f, enumMsiType)"},
	},
	{
		Type: typeOf[schemas.Flag](), Prefix: "fl",
		Params: "at *timeState, badAt *string", Args: "at, badAt",
		Fields: map[string]string{"FlaggedAt": "d.readTime($f, at, badAt)"},
	},
}
