package loadgen

import (
	"strconv"
	"time"
)

// encoder renders events as Graph signIn objects or Azure Monitor
// records. Rendering is a pure function of the event (its salt stands in
// for the draws), so a held-back or duplicated sign-in renders the same.
type encoder struct {
	t        *tenant
	outcomes [outcomes]renderedOutcome
	tenantID string
	tenants  []byte // resource and home tenant members
	envelope []byte // record members between "time" and "category"
}

func newEncoder(t *tenant) *encoder {
	tid := t.id.String()
	return &encoder{
		t: t, outcomes: renderOutcomes(), tenantID: tid,
		tenants:  []byte(`,"resourceTenantId":"` + tid + `","homeTenantId":"` + tid + `"`),
		envelope: []byte(`","resourceId":"/tenants/` + tid + `/providers/Microsoft.aadiam","operationName":"Sign-in activity","operationVersion":"1.0","category":"`),
	}
}

const (
	riskNone       = `,"tokenIssuerType":"AzureAD","riskDetail":"none","riskLevelAggregated":"none","riskLevelDuringSignIn":"none","riskState":"none","riskEventTypes":[],"riskEventTypes_v2":[]`
	userProcessing = `"authenticationProcessingDetails":[{"key":"Oauth Scope Info","value":"[\"openid\",\"profile\",\"User.Read\"]"},{"key":"Is CAE Token","value":"True"}]`
	userTrailer    = `,"authenticationRequirementPolicies":[{"requirementProvider":"multiConditionalAccess","detail":"Conditional Access"}],"sessionLifetimePolicies":[]}`
	spProcessing   = `"appliedConditionalAccessPolicies":[],"authenticationProcessingDetails":[{"key":"Azure AD App Authentication Library","value":"Family: MSAL Library: MSAL.Python 1.26.0 Platform: Python"}],"networkLocationDetails":[]}`
	spResource     = `,"resourceDisplayName":"Microsoft Graph","resourceId":"` + resGraph + `"`
	noNetwork      = `"networkLocationDetails":[]`
)

var eventTypes = [...]string{`,"signInEventTypes":["interactiveUser"]`, `,"signInEventTypes":["nonInteractiveUser"]`, `,"signInEventTypes":["servicePrincipal"]`}

// appendRecord renders one sign-in: a Graph object, or an Azure Monitor
// record wrapping the same properties.
func (en *encoder) appendRecord(b []byte, e *event, hubs bool) []byte {
	if !hubs {
		return en.appendProperties(b, e, false)
	}
	o := &en.outcomes[e.outcome]
	b = append(b, `{"time":"`...)
	b = appendTime(b, e.at)
	b = append(b, en.envelope...)
	b = append(b, categoryOf[e.kind]...)
	b = append(b, `","tenantId":"`...)
	b = append(b, en.tenantID...)
	b = append(b, `","resultType":"`...)
	b = append(b, o.code...)
	b = append(b, `","resultSignature":"None"`...)
	b = append(b, o.description...)
	b = append(b, `,"durationMs":0,"callerIpAddress":"`...)
	b = en.appendIP(b, e)
	b = append(b, `","correlationId":"`...)
	b = append(b, e.corr[:]...)
	b = append(b, `",`...)
	if e.kind == kindServicePrincipal {
		b = append(b, `"identity":"`...)
		b = append(b, en.t.sps[e.who].name...)
		b = append(b, '"')
	} else {
		b = append(b, en.t.users[e.who].identity...)
	}
	b = append(b, `,"Level":4,"location":"`...)
	b = append(b, en.t.places.country[en.place(e)]...)
	b = append(b, `","properties":`...)
	b = en.appendProperties(b, e, true)
	return append(b, '}')
}

func (en *encoder) appendProperties(b []byte, e *event, hubs bool) []byte {
	if e.kind == kindServicePrincipal {
		return en.appendServicePrincipal(b, e)
	}
	o := &en.outcomes[e.outcome]
	u := &en.t.users[e.who]
	a := &en.t.apps[e.app]
	b = append(b, `{"id":"`...)
	b = append(b, e.id[:]...)
	b = append(b, `","createdDateTime":"`...)
	b = appendTime(b, e.at)
	b = append(b, `",`...)
	b = append(b, u.ident...)
	b = append(b, ',')
	b = append(b, a.ident...)
	b = append(b, `,"ipAddress":"`...)
	b = en.appendIP(b, e)
	b = append(b, `",`...)
	b = append(b, a.clientApp...)
	b = append(b, `,"correlationId":"`...)
	b = append(b, e.corr[:]...)
	b = append(b, '"')
	b = append(b, o.middle...)
	b = append(b, `,"originalRequestId":"`...)
	b = append(b, e.id[:]...)
	b = append(b, `","isInteractive":`...)
	b = strconv.AppendBool(b, e.kind == kindInteractive)
	b = append(b, riskNone...)
	b = append(b, `,"processingTimeInMilliseconds":`...)
	b = strconv.AppendInt(b, int64(20+e.salt%380), 10)
	b = append(b, ',')
	b = append(b, a.resource...)
	b = append(b, en.tenants...)
	b = append(b, o.requirement...)
	b = append(b, `,"autonomousSystemNumber":`...)
	b = append(b, en.t.places.asn[en.place(e)]...)
	b = append(b, `,"crossTenantAccessType":"none","isTenantRestricted":false,"flaggedForReview":false,"uniqueTokenIdentifier":"`...)
	b = appendToken(b, e.salt)
	b = append(b, `","sessionId":"`...)
	b = appendSession(b, e)
	b = append(b, `","authenticationProtocol":"none"`...)
	b = append(b, eventTypes[e.kind]...)
	if hubs {
		b = append(b, u.hubsTail...)
	} else {
		b = append(b, u.graphTail...)
	}
	b = en.appendDevice(b, e)
	b = append(b, ',')
	b = append(b, o.status...)
	b = append(b, ',')
	b = append(b, en.t.places.location[en.place(e)]...)
	b = append(b, ',')
	if hubs {
		b = append(b, en.t.policies.hubs[outcomeSpecs[e.outcome].policies]...)
	} else {
		b = append(b, en.t.policies.graph[outcomeSpecs[e.outcome].policies]...)
	}
	b = append(b, ',')
	b = append(b, userProcessing...)
	b = append(b, ',')
	if e.origin == fromOffice {
		b = append(b, en.t.offices[u.office].network...)
	} else {
		b = append(b, noNetwork...)
	}
	b = append(b, `,"authenticationDetails":[`...)
	for i, s := range o.steps {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"authenticationStepDateTime":"`...)
		b = appendTime(b, e.at+s.offset*int64(time.Second))
		b = append(b, s.rest...)
	}
	b = append(b, ']')
	return append(b, userTrailer...)
}

// appendDevice writes the user's device and agent, or for sign-ins an
// attacker makes with the user's name, the attacker's.
func (en *encoder) appendDevice(b []byte, e *event) []byte {
	if e.origin != fromSprayer && e.origin != fromFatigue {
		return append(b, en.t.users[e.who].device...)
	}
	b = append(b, `,"deviceDetail":{"deviceId":"","displayName":"","operatingSystem":"Windows10","browser":"Chrome 121.0.0","isCompliant":false,"isManaged":false,"trustType":""},"userAgent":"`...)
	b = append(b, attackerAgents[int(e.period)%len(attackerAgents)]...)
	return append(b, '"')
}

func (en *encoder) appendServicePrincipal(b []byte, e *event) []byte {
	o := &en.outcomes[e.outcome]
	sp := &en.t.sps[e.who]
	b = append(b, `{"id":"`...)
	b = append(b, e.id[:]...)
	b = append(b, `","createdDateTime":"`...)
	b = appendTime(b, e.at)
	b = append(b, `",`...)
	b = append(b, sp.ident...)
	b = append(b, `,"correlationId":"`...)
	b = append(b, e.corr[:]...)
	b = append(b, `","conditionalAccessStatus":"notApplied","originalRequestId":"`...)
	b = append(b, e.id[:]...)
	b = append(b, `","isInteractive":false,"tokenIssuerType":"AzureAD","processingTimeInMilliseconds":`...)
	b = strconv.AppendInt(b, int64(10+e.salt%90), 10)
	b = append(b, spResource...)
	b = append(b, en.tenants...)
	b = append(b, eventTypes[kindServicePrincipal]...)
	b = append(b, ',')
	b = append(b, sp.tail...)
	b = append(b, `,"uniqueTokenIdentifier":"`...)
	b = appendToken(b, e.salt)
	b = append(b, `","autonomousSystemNumber":8075,`...)
	b = append(b, o.status...)
	b = append(b, ',')
	b = append(b, en.t.places.location[sp.place]...)
	b = append(b, ',')
	return append(b, spProcessing...)
}

// place is the index of the sign-in's location in tenant.places.
func (en *encoder) place(e *event) int {
	switch {
	case e.kind == kindServicePrincipal:
		return en.t.sps[e.who].place
	case e.origin == fromTravel:
		return travelPlace(int(e.who))
	case e.origin == fromSprayer:
		return attackerPlace(int(e.period))
	case e.origin == fromFatigue:
		return attackerPlace(int(e.period) + 1)
	}
	return en.t.offices[en.t.users[e.who].office].place
}

func (en *encoder) appendIP(b []byte, e *event) []byte {
	if e.kind == kindServicePrincipal {
		return append(b, en.t.sps[e.who].ip...)
	}
	switch e.origin {
	case fromOffice:
		return append(b, en.t.offices[en.t.users[e.who].office].ip...)
	case fromTravel:
		b = append(b, "2001:db8:7a:"...)
		b = strconv.AppendUint(b, uint64(e.who)&0xffff, 16)
		return append(b, "::1"...)
	case fromSprayer:
		return strconv.AppendInt(append(b, sprayerNet...), 1+int64(e.period)%127, 10)
	case fromFatigue:
		return strconv.AppendInt(append(b, sprayerNet...), fatigueHostBase+int64(e.period)%127, 10)
	}
	return append(b, en.t.users[e.who].homeIP...)
}

const base64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// appendToken writes a 22-character token identifier, as Entra's look.
func appendToken(b []byte, salt uint64) []byte {
	x := salt*0x9e3779b97f4a7c15 ^ salt>>29
	for i := range 22 {
		b = append(b, base64URL[x&63])
		x = x>>6 | x<<58
		if i == 10 {
			x ^= salt
		}
	}
	return b
}

// appendSession writes the user's session id for the day: a user's
// sign-ins on one day share a session, as a browser's or device's do.
func appendSession(b []byte, e *event) []byte {
	day := uint64(e.at / int64(24*time.Hour))
	r := rng{s: uint64(e.who)<<32 ^ day ^ 0x5e551011}
	g := r.newGUID()
	return append(b, g[:]...)
}
