package queryapi

import (
	"net/http"
	"time"

	"github.com/signindiag/signindiag/rules"
	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

// evidenceScenarios are the per-sign-in scenarios whose findings carry the
// user's 48-hour failures as evidence. The windowed detections carry
// theirs through their incidents (incidents.go); a finding stored under a
// detection's scenario by an older version gets its detection's window.
var evidenceScenarios = map[string]bool{
	rules.ScenarioAccountLocked:      true,
	rules.ScenarioInvalidCredentials: true,
}

// maxEvidence bounds the evidence queries of one response.
const maxEvidence = 20

// findingsWithEvidence reads the findings of signIns, attaches evidence,
// computed from storage, to the windowed ones, and adds the incidents of
// the windowed detections every sign-in is a member of.
func (a *API) findingsWithEvidence(r *http.Request, signIns []schemas.SignIn) ([]schemas.Finding, error) {
	findings, err := a.reader.Findings(r.Context(), signIns)
	if err != nil {
		return nil, err
	}
	ips := map[string]string{}
	for _, si := range signIns {
		ips[si.ID] = si.IPAddress
	}
	done := 0
	for i := range findings {
		f := &findings[i]
		if done >= maxEvidence {
			break
		}
		q := sinks.EvidenceQuery{UserKey: f.UserKey, From: f.OccurredAt.Add(-a.cfg.Window), To: f.OccurredAt}
		if q.UserKey == "" {
			q.UserKey = schemas.UserKey(f.UserID, f.UserPrincipalName, "")
		}
		if d := a.detection(f.Scenario); d != nil {
			q.From, q.Codes = f.OccurredAt.Add(-d.Window), d.EvidenceCodes
			if d.Key == rules.KeyIP {
				q.UserKey, q.IP = "", ips[f.SignInID]
			}
		} else if !evidenceScenarios[f.Scenario] {
			continue
		}
		if q.UserKey == "" && q.IP == "" {
			continue
		}
		ev, err := a.reader.Evidence(r.Context(), q)
		if err != nil {
			return nil, err
		}
		f.Evidence = ev
		done++
	}
	incidents, err := a.incidentResults(r, signIns, maxEvidence-done)
	if err != nil {
		return nil, err
	}
	return append(findings, incidents...), nil
}

// detection returns the registered detection of a scenario, or nil.
func (a *API) detection(scenario string) *rules.Detection {
	for i := range a.cfg.Detections {
		if a.cfg.Detections[i].Scenario == scenario {
			return &a.cfg.Detections[i]
		}
	}
	return nil
}

// incidentResults returns, for each windowed detection, the incidents
// that the given sign-ins are members of: a sign-in that qualifies for the
// detection, of the incident's key, within its [first, last] span (the
// package doc of pipeline/incident says why that is exact). One result per
// incident, naming the member sign-ins of the response; evidence is
// attached to the first maxEvidence.
func (a *API) incidentResults(r *http.Request, signIns []schemas.SignIn, maxEvidence int) ([]schemas.Finding, error) {
	var out []schemas.Finding
	for i := range a.cfg.Detections {
		d := &a.cfg.Detections[i]
		type probe struct {
			key string
			si  *schemas.SignIn
		}
		var probes []probe
		var keys []string
		seen := map[string]bool{}
		var lo, hi time.Time
		for j := range signIns {
			si := &signIns[j]
			c := rules.CandidateOf(si, a.cfg.IsFailure(si.Status.ErrorCode))
			key := d.KeyOf(c)
			if key == "" || !d.Qualifies(c) {
				continue
			}
			probes = append(probes, probe{key, si})
			if !seen[key] {
				seen[key] = true
				keys = append(keys, key)
			}
			if lo.IsZero() || si.CreatedDateTime.Before(lo) {
				lo = si.CreatedDateTime
			}
			if si.CreatedDateTime.After(hi) {
				hi = si.CreatedDateTime
			}
		}
		if len(probes) == 0 {
			continue
		}
		incs, err := a.reader.Incidents(r.Context(), sinks.IncidentQuery{Detection: d.Scenario, Keys: keys, From: lo, To: hi})
		if err != nil {
			return nil, err
		}
		for _, in := range incs {
			var members []*schemas.SignIn
			for _, p := range probes {
				if p.key == in.Key && !p.si.CreatedDateTime.Before(in.First) && !p.si.CreatedDateTime.After(in.Last) {
					members = append(members, p.si)
				}
			}
			if len(members) == 0 {
				continue
			}
			f := incidentFinding(d, in, members)
			if maxEvidence > 0 {
				q := sinks.EvidenceQuery{From: in.First.Add(-time.Millisecond), To: in.Last, Codes: d.EvidenceCodes}
				if d.Key == rules.KeyIP {
					q.IP = d.BaseKey(in.Key)
				} else {
					q.UserKey = d.BaseKey(in.Key)
				}
				if f.Evidence, err = a.reader.Evidence(r.Context(), q); err != nil {
					return nil, err
				}
				maxEvidence--
			}
			out = append(out, f)
		}
	}
	return out, nil
}

// incidentFinding presents an incident as a diagnostic result of its
// member sign-ins (the first member given stands for them).
func incidentFinding(d *rules.Detection, in sinks.IncidentRecord, members []*schemas.SignIn) schemas.Finding {
	si := members[0]
	f := schemas.Finding{ID: in.ID, IncidentID: in.ID, SignInID: si.ID, CorrelationID: si.CorrelationID,
		UserID: si.UserID, UserPrincipalName: si.UserPrincipalName, AppID: si.AppID, AppDisplayName: si.AppDisplayName,
		OccurredAt: in.Start, Scenario: d.Scenario, Severity: in.Severity, Title: in.Title, Summary: in.Summary,
		Recommendations: in.Recommendations, ErrorCode: si.Status.ErrorCode, UserKey: si.UserKey()}
	for _, m := range members {
		f.MemberSignInIDs = append(f.MemberSignInIDs, m.ID)
		f.Flagged = f.Flagged || m.FlaggedForReview
	}
	return f
}
