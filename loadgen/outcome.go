package loadgen

import "strconv"

// outcome is how a sign-in ended, with everything that follows from it
// rendered once: status, Conditional Access, authentication steps.
type outcome uint8

const (
	outSuccessMFA       outcome = iota // password and an app notification
	outSuccessSSO                      // satisfied by the claims in a token
	outSuccessRefresh                  // non-interactive token refresh
	outMFARequired                     // 50074, completed a few seconds later
	outMFARequiredNew                  // 50076, completed a few seconds later
	outBadPassword                     // 50126
	outCABlocked                       // 53003
	outLockedOut                       // 50053
	outMFADenied                       // 500121
	outFrequencyExpired                // 70043, non-interactive
	outSPSuccess                       // a service principal's client credentials
	outSPSecretExpired                 // 7000222
	outcomes
)

// step is one authenticationDetails entry; its time is the sign-in's
// plus offset seconds.
type step struct {
	method, detail, result, requirement string
	succeeded                           bool
	offset                              int64
}

var (
	stepPassword    = step{"Password", "Password Hash Sync", "Correct password", "Primary authentication", true, 0}
	stepBadPassword = step{"Password", "Password Hash Sync", "Invalid username or password or Invalid on-premise username or password.", "Primary authentication", false, 0}
	stepLocked      = step{"Password", "Password Hash Sync", "Account is locked", "Primary authentication", false, 0}
	stepPush        = step{"Mobile app notification", "", "MFA successfully completed", "Primary authentication", true, 7}
	stepPushPending = step{"Mobile app notification", "", "MFA required in Azure AD", "Primary authentication", false, 1}
	stepPushDenied  = step{"Mobile app notification", "", "MFA denied; user declined the authentication", "Primary authentication", false, 9}
	stepFirstClaim  = step{"Previously satisfied", "", "First factor requirement satisfied by claim in the token", "Primary authentication", true, 0}
	stepMFAClaim    = step{"Previously satisfied", "", "MFA requirement satisfied by claim in the token", "Primary authentication", true, 0}
)

type outcomeSpec struct {
	code              int
	failureReason     string
	additionalDetails string
	caStatus          string
	policies          policyVariant
	requirement       string
	incomingToken     string
	steps             []step
}

var outcomeSpecs = [outcomes]outcomeSpec{
	outSuccessMFA:       {0, "", "MFA completed in Azure AD", "success", policiesPassed, "multiFactorAuthentication", "none", []step{stepPassword, stepPush}},
	outSuccessSSO:       {0, "", "MFA requirement satisfied by claim in the token", "success", policiesPassed, "multiFactorAuthentication", "primaryRefreshToken", []step{stepFirstClaim, stepMFAClaim}},
	outSuccessRefresh:   {0, "", "MFA requirement satisfied by claim in the token", "success", policiesPassed, "multiFactorAuthentication", "refreshToken", []step{stepMFAClaim}},
	outMFARequired:      {50074, "Strong Authentication is required.", "The user is required to complete multi-factor authentication.", "notApplied", policiesPassed, "multiFactorAuthentication", "none", []step{stepPassword, stepPushPending}},
	outMFARequiredNew:   {50076, "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access the resource.", "MFA required", "notApplied", policiesPassed, "multiFactorAuthentication", "none", []step{stepPassword, stepPushPending}},
	outBadPassword:      {50126, "Error validating credentials due to invalid username or password.", "The user didn't enter the right credentials. It's expected to see some number of these errors in your logs due to users making mistakes.", "notApplied", policiesNotEvaluated, "singleFactorAuthentication", "none", []step{stepBadPassword}},
	outCABlocked:        {53003, "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.", "", "failure", policiesBlocked, "singleFactorAuthentication", "none", []step{stepPassword}},
	outLockedOut:        {50053, "Account is locked because user tried to sign in too many times with an incorrect user ID or password.", "", "notApplied", policiesNotEvaluated, "singleFactorAuthentication", "none", []step{stepLocked}},
	outMFADenied:        {500121, "Authentication failed during strong authentication request.", "MFA denied; user declined the authentication", "notApplied", policiesPassed, "multiFactorAuthentication", "none", []step{stepPassword, stepPushDenied}},
	outFrequencyExpired: {70043, "The refresh token has expired or is invalid due to sign-in frequency checks by conditional access.", "", "notApplied", policiesPassed, "multiFactorAuthentication", "refreshToken", nil},
	outSPSuccess:        {0, "", "", "notApplied", policiesPassed, "singleFactorAuthentication", "none", nil},
	outSPSecretExpired:  {7000222, "The provided client secret keys for app are expired.", "", "notApplied", policiesPassed, "singleFactorAuthentication", "none", nil},
}

// renderedOutcome holds the fragments of one outcome.
type renderedOutcome struct {
	code        []byte // resultType value, without quotes
	description []byte // the envelope's ,"resultDescription":… or nothing
	status      []byte // "status":{…}
	middle      []byte // conditionalAccessStatus … up to processingTime
	requirement []byte // ,"authenticationRequirement":… ,"incomingTokenType":…
	steps       []stepFragment
}

// stepFragment: the step's members after its time.
type stepFragment struct {
	offset int64
	rest   []byte
}

func renderOutcomes() [outcomes]renderedOutcome {
	var ro [outcomes]renderedOutcome
	for i, s := range outcomeSpecs {
		r := &ro[i]
		r.code = []byte(strconv.Itoa(s.code))
		if s.failureReason != "" {
			r.description = []byte("," + member("resultDescription", s.failureReason))
		}
		st := `"status":{"errorCode":` + strconv.Itoa(s.code)
		if s.failureReason != "" {
			st += "," + member("failureReason", s.failureReason)
		}
		if s.additionalDetails != "" {
			st += "," + member("additionalDetails", s.additionalDetails)
		}
		r.status = []byte(st + "}")
		r.middle = []byte(`,"conditionalAccessStatus":"` + s.caStatus + `"`)
		r.requirement = []byte(`,"authenticationRequirement":"` + s.requirement + `","incomingTokenType":"` + s.incomingToken + `"`)
		for _, p := range s.steps {
			detail := `","authenticationMethod":` + quote(p.method)
			if p.detail != "" {
				detail += `,"authenticationMethodDetail":` + quote(p.detail)
			}
			detail += `,"succeeded":` + strconv.FormatBool(p.succeeded) + `,"authenticationStepResultDetail":` + quote(p.result) +
				`,"authenticationStepRequirement":` + quote(p.requirement) + `}`
			r.steps = append(r.steps, stepFragment{p.offset, []byte(detail)})
		}
	}
	return ro
}
