package queryapi

import (
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

var burst = time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC)

func fatigueIncident() sinks.IncidentRecord {
	return sinks.IncidentRecord{ID: "inc-1", Detection: "mfa_fatigue", Key: "u1", Start: burst.Add(9 * time.Minute),
		First: burst, Last: burst.Add(11 * time.Minute), Count: 12, Severity: "high", Title: "Repeated MFA prompts (MFA fatigue)",
		Summary: "fay had 12 denied MFA prompts", Recommendations: []string{"contact"}}
}

func denied(id string, at time.Time) schemas.SignIn {
	return schemas.SignIn{ID: id, UserID: "U1", UserPrincipalName: "fay@contoso.example", CreatedDateTime: at,
		IPAddress: "203.0.113.7", Status: schemas.Status{ErrorCode: 500121}}
}

// TestEveryMemberSignInShowsTheIncident: the first denial, one in the
// middle and the last all show the incident; a denial outside its span, a
// sign-in that does not qualify and another user's do not.
func TestEveryMemberSignInShowsTheIncident(t *testing.T) {
	other := denied("other-user", burst.Add(5*time.Minute))
	other.UserID = "u2"
	success := denied("success", burst.Add(5*time.Minute))
	success.Status.ErrorCode = 0
	for _, c := range []struct {
		si   schemas.SignIn
		want bool
	}{
		{denied("first", burst), true},
		{denied("middle", burst.Add(5*time.Minute)), true},
		{denied("last", burst.Add(11*time.Minute)), true},
		{denied("before", burst.Add(-time.Millisecond)), false},
		{denied("after", burst.Add(11*time.Minute+time.Millisecond)), false},
		{success, false},
		{other, false},
	} {
		r := &fakeReader{signIns: []schemas.SignIn{c.si}, incidents: []sinks.IncidentRecord{fatigueIncident()}}
		code, body := serve(t, r, "/v1/diagnose?requestId="+c.si.ID)
		results, _ := body["diagnosticResults"].([]any)
		if code != http.StatusOK || (len(results) == 1) != c.want {
			t.Fatalf("%s: %d results %v, want the incident: %v", c.si.ID, code, results, c.want)
		}
		if !c.want {
			continue
		}
		res := results[0].(map[string]any)
		if res["incidentId"] != "inc-1" || res["id"] != "inc-1" || res["scenario"] != "mfa_fatigue" || res["signInId"] != c.si.ID ||
			res["summary"] != "fay had 12 denied MFA prompts" || res["evidence"] == nil {
			t.Fatalf("%s: %v", c.si.ID, res)
		}
		// Evidence covers the incident's own span, 500121 only.
		ev := r.evidence[len(r.evidence)-1]
		if ev.UserKey != "u1" || !ev.From.Equal(burst.Add(-time.Millisecond)) || !ev.To.Equal(burst.Add(11*time.Minute)) ||
			len(ev.Codes) != 1 || ev.Codes[0] != 500121 {
			t.Fatalf("%s: evidence query %+v", c.si.ID, ev)
		}
	}
}

// TestSprayIncidentShowsOnEveryVictim: a user search returning several
// victims of one spray shows the incident once, naming them.
func TestSprayIncidentShowsOnEveryVictim(t *testing.T) {
	var victims []schemas.SignIn
	for i, u := range []string{"a", "b", "c"} {
		victims = append(victims, schemas.SignIn{ID: "v-" + u, UserID: u, IPAddress: "198.51.100.99",
			CreatedDateTime: burst.Add(time.Duration(i) * time.Minute), Status: schemas.Status{ErrorCode: 50126}})
	}
	spray := sinks.IncidentRecord{ID: "inc-s", Detection: "password_spray", Key: "198.51.100.99", Start: burst.Add(4 * time.Minute),
		First: burst, Last: burst.Add(12 * time.Minute), Count: 25}
	r := &fakeReader{signIns: victims, incidents: []sinks.IncidentRecord{spray}}
	_, body := serve(t, r, "/v1/diagnose?user=a")
	results := body["diagnosticResults"].([]any)
	if len(results) != 1 {
		t.Fatalf("results %v", results)
	}
	res := results[0].(map[string]any)
	members := res["memberSignInIds"].([]any)
	if res["incidentId"] != "inc-s" || len(members) != 3 || r.evidence[0].IP != "198.51.100.99" {
		t.Fatalf("spray result %v, evidence %+v", res, r.evidence)
	}
	// One query per detection the sign-ins qualify for: failures (48h, by
	// user) and spray (by IP), run at once.
	sort.Slice(r.incidentQueries, func(i, j int) bool { return r.incidentQueries[i].Detection < r.incidentQueries[j].Detection })
	if q := r.incidentQueries; len(q) != 2 || q[0].Detection != "excessive_failures_48h" || len(q[0].Keys) != 3 ||
		q[1].Detection != "password_spray" || len(q[1].Keys) != 1 {
		t.Fatalf("incident queries %+v", q)
	}
}

func TestIncidentsEndpointFiltersAndPages(t *testing.T) {
	r := &fakeReader{incidents: []sinks.IncidentRecord{fatigueIncident()}}
	code, body := serve(t, r, "/v1/incidents?detection=mfa_fatigue&key=U1&from=2025-03-04T00:00:00Z&to=2025-03-05T00:00:00Z&limit=1")
	if code != http.StatusOK {
		t.Fatalf("%d %v", code, body)
	}
	list := body["incidents"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["id"] != "inc-1" || list[0].(map[string]any)["keyKind"] != "user" ||
		list[0].(map[string]any)["threshold"] != float64(10) {
		t.Fatalf("incidents %v", list)
	}
	next, _ := body["next"].(string)
	if next != "1741079340000.inc-1" {
		t.Fatalf("next %q", next)
	}
	q := r.incidentQueries[0]
	if q.Detection != "mfa_fatigue" || len(q.Keys) != 2 || q.Keys[1] != "u1" || q.Limit != 1 || !q.From.Equal(burst.Add(-9*time.Hour)) {
		t.Fatalf("query %+v", q)
	}
	serve(t, r, "/v1/incidents?cursor="+next)
	if q := r.incidentQueries[1]; q.AfterID != "inc-1" || !q.AfterStart.Equal(burst.Add(9*time.Minute)) || q.Limit != 100 {
		t.Fatalf("second page query %+v", q)
	}
	for _, bad := range []struct{ target, param string }{
		{"/v1/incidents?detection=nope", "detection"}, {"/v1/incidents?limit=0", "limit"},
		{"/v1/incidents?from=yesterday", "from"}, {"/v1/incidents?cursor=x", "cursor"},
	} {
		code, body := serve(t, r, bad.target)
		if code != http.StatusBadRequest || body["parameter"] != bad.param {
			t.Errorf("%s: %d %v", bad.target, code, body)
		}
	}
}

// failure_spike incidents (from the spike detector, not a windowed
// detection) can be listed on their own, with their details, and their
// key ("dimension=value") is matched as given.
func TestFailureSpikeIncidentsAreListedWithTheirDetails(t *testing.T) {
	spike := sinks.IncidentRecord{ID: "spike-1", Detection: "failure_spike", Key: "app=Contoso HR", Start: burst,
		First: burst, Last: burst.Add(10 * time.Minute), Count: 42, Severity: "medium", Title: "Failure spike", Summary: "42 failures",
		Details: []byte(`{"dimension":"app","value":"Contoso HR","count":42,"baseline":3.5}`)}
	r := &fakeReader{incidents: []sinks.IncidentRecord{fatigueIncident(), spike}}
	code, body := serve(t, r, "/v1/incidents?detection=failure_spike&key=app%3DContoso+HR")
	list, _ := body["incidents"].([]any)
	if code != http.StatusOK || len(list) != 1 {
		t.Fatalf("%d %v, want the spike only", code, body)
	}
	in := list[0].(map[string]any)
	details, _ := in["details"].(map[string]any)
	if in["id"] != "spike-1" || details["value"] != "Contoso HR" || details["baseline"] != 3.5 {
		t.Fatalf("incident %v", in)
	}
	if q := r.incidentQueries[len(r.incidentQueries)-1]; len(q.Keys) != 1 || q.Keys[0] != "app=Contoso HR" {
		t.Fatalf("keys asked %v, want the key as given", q.Keys)
	}
}
