package loadgen

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/signindiag/signindiag/schemas"
)

// TestSprayAndFatigueBurstsAtEveryPeriod decodes six hours of traffic and
// finds each period's attacks: a password spray (one address, ≥ 25
// distinct users failing 50126 within 12 minutes) and an MFA-fatigue burst
// (one user, 12 prompts denied with 500121 about a minute apart). The
// attackers' range carries nothing else.
func TestSprayAndFatigueBurstsAtEveryPeriod(t *testing.T) {
	cfg := testConfig(ShapeMixed)
	ds, _ := drain(t, cfg)
	byIP := map[string][]*schemas.SignIn{}
	attackers := netip.MustParsePrefix("198.51.100.0/24")
	for _, si := range firstSendings(ds) {
		if attackers.Contains(netip.MustParseAddr(si.IPAddress)) {
			byIP[si.IPAddress] = append(byIP[si.IPAddress], si)
		}
	}
	periods := int(cfg.Span / cfg.BurstEvery)
	for p := range periods {
		spray := byIP[SprayAddress(p)]
		users := map[string]bool{}
		first, last := spray[0].CreatedDateTime, spray[0].CreatedDateTime
		for _, si := range spray {
			if si.Status.ErrorCode != 50126 {
				t.Errorf("period %d: spray sign-in with error %d", p, si.Status.ErrorCode)
			}
			users[si.UserKey()] = true
			first, last = minTime(first, si.CreatedDateTime), maxTime(last, si.CreatedDateTime)
		}
		if len(users) < 25 || len(users) != len(spray) || last.Sub(first) > 12*time.Minute {
			t.Errorf("period %d: spray from %s: %d sign-ins, %d users over %v", p, SprayAddress(p), len(spray), len(users), last.Sub(first))
		}

		prompts := byIP[FatigueAddress(p)]
		if len(prompts) != 12 {
			t.Fatalf("period %d: %d fatigue prompts from %s, want 12", p, len(prompts), FatigueAddress(p))
		}
		// Late delivery may reorder them; the burst is in event time.
		slices.SortFunc(prompts, func(a, b *schemas.SignIn) int { return a.CreatedDateTime.Compare(b.CreatedDateTime) })
		for i, si := range prompts {
			if si.Status.ErrorCode != 500121 || si.UserKey() != prompts[0].UserKey() {
				t.Errorf("period %d prompt %d: error %d, user %s", p, i, si.Status.ErrorCode, si.UserKey())
			}
			if i > 0 {
				if gap := si.CreatedDateTime.Sub(prompts[i-1].CreatedDateTime); gap < 55*time.Second || gap > 65*time.Second {
					t.Errorf("period %d prompt %d: %v after the previous one", p, i, gap)
				}
			}
		}
	}
	if len(byIP) != 2*periods {
		t.Errorf("%d attacker addresses, want %d", len(byIP), 2*periods)
	}
}

// TestNoAttacksWhenDisabled: a negative BurstEvery turns attacks off.
func TestNoAttacksWhenDisabled(t *testing.T) {
	cfg := testConfig(ShapeGraph)
	cfg.BurstEvery = -1
	ds, _ := drain(t, cfg)
	for _, si := range firstSendings(ds) {
		if si.Status.ErrorCode == 500121 {
			t.Fatalf("fatigue prompt %s with attacks off", si.ID)
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
