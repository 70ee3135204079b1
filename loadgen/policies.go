package loadgen

import (
	"strconv"
	"strings"
)

// policyVariant is how the tenant's Conditional Access policies came out
// for a sign-in.
type policyVariant uint8

const (
	// policiesPassed: MFA policy satisfied, the rest not applicable.
	policiesPassed policyVariant = iota
	// policiesBlocked: the country block policy failed the sign-in.
	policiesBlocked
	// policiesNotEvaluated: the first factor failed, nothing applied.
	policiesNotEvaluated
	policyVariants
)

// caPolicy is one Conditional Access policy and its result per variant.
// Entra lists every enabled and report-only policy on every user sign-in,
// which is a good part of a record's bytes; four keep records near 3.5 KB.
type caPolicy struct {
	name                    string
	grant, session          []string
	include                 [][2]string // condition, rule
	results                 [policyVariants]string
	satisfied, notSatisfied [policyVariants]string
}

// blockPolicyName is the policy a Conditional Access block names.
const blockPolicyName = "Block access from outside allowed countries"

var caPolicies = []caPolicy{
	{name: "Require MFA for all users", grant: []string{"Mfa"},
		include: [][2]string{{"users", "allUsers"}},
		results: [3]string{"success", "notApplied", "notApplied"}, satisfied: [3]string{"application,users", "application,users", "application,users"}},
	{name: "Block legacy authentication", grant: []string{"Block"},
		results: [3]string{"notApplied", "notApplied", "notApplied"}, satisfied: [3]string{"application,users", "application,users", "application,users"},
		notSatisfied: [3]string{"clientType", "clientType", "clientType"}},
	{name: blockPolicyName, grant: []string{"Block"},
		include: [][2]string{{"location", "allLocations"}},
		results: [3]string{"notApplied", "failure", "notApplied"}, satisfied: [3]string{"application,users", "application,users,location", "application,users"},
		notSatisfied: [3]string{"location", "", "location"}},
	{name: "Report-only: require MFA for risky sign-ins", grant: []string{"Mfa"},
		results: [3]string{"reportOnlyNotApplied", "reportOnlyNotApplied", "reportOnlyNotApplied"}, satisfied: [3]string{"application,users", "application,users", "application,users"},
		notSatisfied: [3]string{"signInRisk", "signInRisk", "signInRisk"}},
}

// conditionBits are Graph's conditionalAccessConditions flags, which
// Azure Monitor records carry as an integer.
var conditionBits = map[string]int{"application": 1, "users": 2, "devicePlatform": 4, "location": 8, "clientType": 16, "signInRisk": 32, "userRisk": 64}

// policySet holds each variant's rendered "appliedConditionalAccessPolicies"
// member, as Graph writes it (condition lists as text) and as Azure
// Monitor does (as integers).
type policySet struct {
	graph, hubs [policyVariants][]byte
}

func renderPolicies(r *rng) policySet {
	ids := make([]string, len(caPolicies))
	for i := range ids {
		ids[i] = r.newGUID().String()
	}
	var ps policySet
	for v := range policyVariants {
		ps.graph[v] = renderPolicyList(ids, v, false)
		ps.hubs[v] = renderPolicyList(ids, v, true)
	}
	return ps
}

func renderPolicyList(ids []string, v policyVariant, asBits bool) []byte {
	var b strings.Builder
	b.WriteString(`"appliedConditionalAccessPolicies":[`)
	for i, p := range caPolicies {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"id":"` + ids[i] + `",` + member("displayName", p.name) + `,"enforcedGrantControls":` + list(p.grant) +
			`,"enforcedSessionControls":` + list(p.session) + `,"result":"` + p.results[v] + `",`)
		if asBits {
			b.WriteString(`"conditionsSatisfied":` + strconv.Itoa(bitsOf(p.satisfied[v])) + `,"conditionsNotSatisfied":` + strconv.Itoa(bitsOf(p.notSatisfied[v])))
		} else {
			b.WriteString(`"conditionsSatisfied":"` + orNone(p.satisfied[v]) + `","conditionsNotSatisfied":"` + orNone(p.notSatisfied[v]) + `"`)
		}
		b.WriteString(`,"includeRulesSatisfied":[`)
		for j, rule := range p.include {
			if p.results[v] != "success" && p.results[v] != "failure" {
				break // rules are listed for the policies that applied
			}
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"conditionalAccessCondition":"` + rule[0] + `","ruleSatisfied":"` + rule[1] + `"}`)
		}
		b.WriteString(`],"excludeRulesSatisfied":[]}`)
	}
	b.WriteString("]")
	return []byte(b.String())
}

func list(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = quote(s)
	}
	return "[" + strings.Join(quoted, ",") + "]"
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func bitsOf(conditions string) int {
	n := 0
	for c := range strings.SplitSeq(conditions, ",") {
		n |= conditionBits[c]
	}
	return n
}
