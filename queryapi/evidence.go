package queryapi

import (
	"net/http"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

// evidenceScenarios are the windowed scenarios whose findings carry
// evidence: what the failures in their window have in common.
var evidenceScenarios = map[string]bool{
	"excessive_failures_48h": true,
	"account_locked":         true,
	"invalid_credentials":    true,
	"password_spray":         true,
	"mfa_fatigue":            true,
}

// maxEvidence bounds the evidence queries of one response.
const maxEvidence = 20

// findingsWithEvidence reads the findings of signIns and attaches
// evidence, computed from storage, to the windowed ones.
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
		if !evidenceScenarios[f.Scenario] || done >= maxEvidence {
			continue
		}
		q := sinks.EvidenceQuery{UserKey: f.UserKey, From: f.OccurredAt.Add(-a.cfg.Window), To: f.OccurredAt}
		if q.UserKey == "" {
			q.UserKey = schemas.UserKey(f.UserID, f.UserPrincipalName, "")
		}
		switch f.Scenario {
		case "password_spray":
			q = sinks.EvidenceQuery{IP: ips[f.SignInID], From: f.OccurredAt.Add(-a.cfg.SprayWindow), To: f.OccurredAt}
		case "mfa_fatigue":
			q.From = f.OccurredAt.Add(-a.cfg.MFAFatigueWindow)
			q.Codes = []int{500121}
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
	return findings, nil
}
