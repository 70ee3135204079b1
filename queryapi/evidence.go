package queryapi

import (
	"context"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"

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
// the windowed detections every sign-in is a member of. The reads that do
// not depend on each other run at once (findings beside incidents, then
// every evidence query): a lookup's latency is the longest chain of
// queries, not their sum.
func (a *API) findingsWithEvidence(r *http.Request, signIns []schemas.SignIn) ([]schemas.Finding, error) {
	var findings, incidents []schemas.Finding
	var incidentEvidence []sinks.EvidenceQuery
	g, ctx := errgroup.WithContext(r.Context())
	g.Go(func() (err error) {
		findings, err = a.reader.Findings(ctx, signIns)
		return err
	})
	g.Go(func() (err error) {
		incidents, incidentEvidence, err = a.incidentResults(ctx, signIns)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// Evidence goes to the first maxEvidence windowed results, findings
	// first, as it always has; the queries then run together.
	var jobs []evidenceJob
	ips := map[string]string{}
	for _, si := range signIns {
		ips[si.ID] = si.IPAddress
	}
	for i := range findings {
		if len(jobs) >= maxEvidence {
			break
		}
		if q, ok := a.findingEvidence(&findings[i], ips); ok {
			jobs = append(jobs, evidenceJob{&findings[i], q})
		}
	}
	for i := range incidents {
		if len(jobs) >= maxEvidence {
			break
		}
		jobs = append(jobs, evidenceJob{&incidents[i], incidentEvidence[i]})
	}
	if err := a.attachEvidence(r.Context(), jobs); err != nil {
		return nil, err
	}
	return append(findings, incidents...), nil
}

// evidenceJob is an evidence query and the result it is for.
type evidenceJob struct {
	f *schemas.Finding
	q sinks.EvidenceQuery
}

// attachEvidence runs the evidence queries at once, a few at a time.
func (a *API) attachEvidence(ctx context.Context, jobs []evidenceJob) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, j := range jobs {
		g.Go(func() (err error) {
			j.f.Evidence, err = a.reader.Evidence(ctx, j.q)
			return err
		})
	}
	return g.Wait()
}

// findingEvidence is the evidence query of a finding, if it is windowed.
func (a *API) findingEvidence(f *schemas.Finding, ips map[string]string) (sinks.EvidenceQuery, bool) {
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
		return q, false
	}
	return q, q.UserKey != "" || q.IP != ""
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

// incidentResults returns, for each windowed detection, the incidents that the
// given sign-ins are members of: a sign-in that qualifies for the
// detection, of the incident's key, within its [first, last] span (the
// package doc of pipeline/incident says why that is exact). One result per
// incident, naming the member sign-ins of the response, with the query of
// its evidence. The detections are read at once.
func (a *API) incidentResults(ctx context.Context, signIns []schemas.SignIn) ([]schemas.Finding, []sinks.EvidenceQuery, error) {
	perDetection := make([][]schemas.Finding, len(a.cfg.Detections))
	perEvidence := make([][]sinks.EvidenceQuery, len(a.cfg.Detections))
	g, ctx := errgroup.WithContext(ctx)
	for i := range a.cfg.Detections {
		g.Go(func() (err error) {
			perDetection[i], perEvidence[i], err = a.incidentsOf(ctx, &a.cfg.Detections[i], signIns)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	var out []schemas.Finding
	var evidence []sinks.EvidenceQuery
	for i := range perDetection {
		out = append(out, perDetection[i]...)
		evidence = append(evidence, perEvidence[i]...)
	}
	return out, evidence, nil
}

// incidentsOf returns the incidents of one detection that the sign-ins are
// members of, and the query of each one's evidence.
func (a *API) incidentsOf(ctx context.Context, d *rules.Detection, signIns []schemas.SignIn) ([]schemas.Finding, []sinks.EvidenceQuery, error) {
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
		return nil, nil, nil
	}
	incs, err := a.reader.Incidents(ctx, sinks.IncidentQuery{Detection: d.Scenario, Keys: keys, From: lo, To: hi})
	if err != nil {
		return nil, nil, err
	}
	var out []schemas.Finding
	var evidence []sinks.EvidenceQuery
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
		q := sinks.EvidenceQuery{From: in.First.Add(-time.Millisecond), To: in.Last, Codes: d.EvidenceCodes}
		if d.Key == rules.KeyIP {
			q.IP = d.BaseKey(in.Key)
		} else {
			q.UserKey = d.BaseKey(in.Key)
		}
		out = append(out, incidentFinding(d, in, members))
		evidence = append(evidence, q)
	}
	return out, evidence, nil
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
