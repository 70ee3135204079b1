package loadgen

import (
	"net/netip"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/signindiag/signindiag/schemas"
)

// TestMixLooksLikeATenant checks the proportions a real tenant shows:
// mostly successes, several non-interactive sign-ins per interactive one,
// a few service principals, every failure kind present, busy users.
func TestMixLooksLikeATenant(t *testing.T) {
	ds, _ := drain(t, testConfig(ShapeMixed))
	all := firstSendings(ds)
	byCategory := map[string]int{}
	byCode := map[int]int{}
	perUser := map[string]int{}
	for _, si := range all {
		byCategory[si.Category]++
		byCode[si.Status.ErrorCode]++
		if si.Category != schemas.CategoryServicePrincipal {
			perUser[si.UserKey()]++
		}
	}
	n := float64(len(all))
	t.Logf("categories %v; codes %v", byCategory, byCode)
	ratio := float64(byCategory[schemas.CategoryNonInteractive]) / float64(byCategory[schemas.CategoryInteractive])
	if ratio < 5 || ratio > 10 {
		t.Errorf("non-interactive per interactive: %.1f, want 5–10 (%v)", ratio, byCategory)
	}
	if sp := float64(byCategory[schemas.CategoryServicePrincipal]) / n; sp < 0.005 || sp > 0.03 {
		t.Errorf("service principals: %.2f%%, want 0.5–3%%", 100*sp)
	}
	if ok := float64(byCode[0]) / n; ok < 0.9 || ok > 0.99 {
		t.Errorf("successes: %.1f%%, want 90–99%%", 100*ok)
	}
	for code, least := range map[int]int{50074: 20, 50076: 5, 50126: 100, 53003: 10, 50053: 3, 500121: 12, 70043: 50, 7000222: 1} {
		if byCode[code] < least {
			t.Errorf("error %d: %d sign-ins, want at least %d", code, byCode[code], least)
		}
	}

	// The top 1 % of users are much busier than their share.
	counts := make([]int, 0, len(perUser))
	users := 0
	for _, c := range perUser {
		counts = append(counts, c)
		users += c
	}
	sort.Sort(sort.Reverse(sort.IntSlice(counts)))
	top := 0
	for _, c := range counts[:len(counts)/100+1] {
		top += c
	}
	share := float64(top) / float64(users)
	t.Logf("top 1%% of %d users: %.1f%% of the sign-ins", len(counts), 100*share)
	if share < 0.1 {
		t.Errorf("top 1%% of users make %.1f%% of the sign-ins, want a skew (≥ 10%%)", 100*share)
	}
}

// TestInterruptsAndBlocksLookAsEntraWritesThem: an MFA interrupt is
// completed by a success with its correlation id seconds later; a CA
// block names the failing policy among several that did not apply.
func TestInterruptsAndBlocksLookAsEntraWritesThem(t *testing.T) {
	ds, _ := drain(t, testConfig(ShapeGraph))
	all := firstSendings(ds)
	successAt := map[string]time.Time{}
	var last time.Time
	for _, si := range all {
		if si.Status.ErrorCode == 0 {
			successAt[si.CorrelationID] = si.CreatedDateTime
		}
		if si.CreatedDateTime.After(last) {
			last = si.CreatedDateTime
		}
	}
	interrupts, blocks := 0, 0
	for _, si := range all {
		switch si.Status.ErrorCode {
		case 50074, 50076:
			if si.CreatedDateTime.After(last.Add(-time.Minute)) {
				continue // its completion may lie past the end of the stream
			}
			interrupts++
			done, ok := successAt[si.CorrelationID]
			if gap := done.Sub(si.CreatedDateTime); !ok || gap < time.Second || gap > time.Minute {
				t.Errorf("MFA interrupt %s: completion %v after (found %v)", si.ID, gap, ok)
			}
		case 53003:
			blocks++
			failed, notApplied := "", 0
			for _, p := range si.AppliedConditionalAccessPolicies {
				switch p.Result {
				case "failure":
					failed = p.DisplayName
				case "notApplied":
					notApplied++
				}
			}
			if failed != blockPolicyName || notApplied < 2 || si.ConditionalAccessStatus != "failure" {
				t.Errorf("CA block %s: failing policy %q, %d not applied, status %q", si.ID, failed, notApplied, si.ConditionalAccessStatus)
			}
		}
	}
	if interrupts == 0 || blocks == 0 {
		t.Errorf("%d MFA interrupts, %d CA blocks", interrupts, blocks)
	}
}

// TestFieldsAreRealisticAndSafe: documentation addresses only, UPNs of the
// example domain, GUID ids, locations and devices filled in.
func TestFieldsAreRealisticAndSafe(t *testing.T) {
	ds, _ := drain(t, testConfig(ShapeEventHubs))
	docRanges := []netip.Prefix{
		netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("198.51.100.0/24"),
		netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8::/32"),
	}
	upn := regexp.MustCompile(`^[a-z]+\.[a-z]+\d*(_fabrikam_example#EXT#)?@contoso\.example$`)
	guid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for _, si := range firstSendings(ds) {
		ip, err := netip.ParseAddr(si.IPAddress)
		if err != nil {
			t.Fatalf("%s: ip %q: %v", si.ID, si.IPAddress, err)
		}
		inDoc := false
		for _, p := range docRanges {
			inDoc = inDoc || p.Contains(ip)
		}
		if !inDoc {
			t.Fatalf("%s: ip %s outside the documentation ranges", si.ID, ip)
		}
		if !guid.MatchString(si.ID) || !guid.MatchString(si.CorrelationID) {
			t.Fatalf("ids not GUIDs: %q %q", si.ID, si.CorrelationID)
		}
		if si.Location.CountryOrRegion == "" || si.Location.GeoCoordinates == nil {
			t.Fatalf("%s: no location", si.ID)
		}
		if si.Category == schemas.CategoryServicePrincipal {
			if si.ServicePrincipalID == "" || si.UserID != "" {
				t.Fatalf("%s: service principal sign-in with user %q, sp %q", si.ID, si.UserID, si.ServicePrincipalID)
			}
			continue
		}
		if !upn.MatchString(si.UserPrincipalName) || !guid.MatchString(si.UserID) {
			t.Fatalf("%s: user %q %q", si.ID, si.UserPrincipalName, si.UserID)
		}
		if si.DeviceDetail.OperatingSystem == "" || si.UserAgent == "" || len(si.AuthenticationDetails) == 0 && si.Status.ErrorCode != 70043 {
			t.Fatalf("%s: device, agent or authentication details missing", si.ID)
		}
		if len(si.AppliedConditionalAccessPolicies) < 4 {
			t.Fatalf("%s: %d policies, Entra lists every enabled one", si.ID, len(si.AppliedConditionalAccessPolicies))
		}
	}
}
