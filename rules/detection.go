package rules

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/signindiag/signindiag/schemas"
)

// Windowed detections: one shape for every detection that counts a key's
// qualifying sign-ins over a sliding window (excessive_failures_48h,
// mfa_fatigue, password_spray). Each is one file that registers a
// Detection: its key, window, threshold, which sign-ins qualify, what is
// counted distinct, what an incident says and recommends and which
// evidence it carries. The stages and the query API iterate over
// Detections; pipeline/incident turns the qualifying events into
// incidents whatever their delivery order.

// KeyKind is what a detection groups by.
type KeyKind string

const (
	// KeyUser groups by the user (schemas.SignIn.UserKey); the diagnose
	// stage runs these.
	KeyUser KeyKind = "user"
	// KeyIP groups by source IP; the spray stage runs these.
	KeyIP KeyKind = "ip"
)

// Candidate is what a detection may look at to decide whether an event
// qualifies: a live sign-in or a stored row (window rebuilds) alike.
type Candidate struct {
	ErrorCode int
	// IsFailure is the catalogue's verdict.
	IsFailure bool
	UserKey   string
	IP        string
	AppID     string
	// Device names the device as storage does: its display name when
	// registered, else its operating system and browser (DeviceName).
	Device string
}

// CandidateOf describes a live sign-in.
func CandidateOf(si *schemas.SignIn, isFailure bool) Candidate {
	return Candidate{ErrorCode: si.Status.ErrorCode, IsFailure: isFailure, UserKey: si.UserKey(), IP: si.IPAddress,
		AppID: si.AppID, Device: DeviceName(si)}
}

// DeviceName names a sign-in's device as the stored device column does:
// its display name when registered, else its operating system and browser.
func DeviceName(si *schemas.SignIn) string {
	d := si.DeviceDetail
	if d.DisplayName != "" {
		return d.DisplayName
	}
	return strings.TrimSpace(d.OperatingSystem + " " + d.Browser)
}

// IncidentView is an incident as a detection describes it.
type IncidentView struct {
	Key         string
	Count       int
	First, Last time.Time
	// Latest is the latest member sign-in the stage saw, when it has one
	// at hand (nil otherwise); it may be partial (the spray stage's).
	Latest *schemas.SignIn
}

// Description is what an incident says and recommends.
type Description struct {
	Severity        string
	Title           string
	Summary         string
	Recommendations []string
}

// Detection is one windowed detection.
type Detection struct {
	Scenario  string
	Key       KeyKind
	Window    time.Duration
	Threshold int
	// Split, when set, divides a key further (e.g. a user's failures by
	// application and device): the incident key is "<key>|<Split>", and an
	// event for which Split returns "" has no key. A user-keyed split
	// still runs on the user's partition.
	Split func(c Candidate) string
	// CountsUsers: the threshold is of distinct users (password_spray);
	// otherwise of distinct sign-ins.
	CountsUsers bool
	// Qualifies reports whether an event counts. Only failures can
	// qualify: a worker taking over a partition rebuilds from the stored
	// failures (user detections) or the spray candidates (IP detections).
	Qualifies func(c Candidate) bool
	// EvidenceCodes restrict the evidence (and the read-time membership)
	// to these error codes; nil means every failure.
	EvidenceCodes []int
	// Describe words an incident.
	Describe func(d *Detection, v IncidentView) Description
}

// KeyOf returns the detection's key of an event, "" when it has none.
func (d *Detection) KeyOf(c Candidate) string {
	key := c.UserKey
	if d.Key == KeyIP {
		key = c.IP
	}
	if d.Split == nil || key == "" {
		return key
	}
	part := d.Split(c)
	if part == "" {
		return ""
	}
	return key + keySeparator + part
}

const keySeparator = "|"

// BaseKey is the user or IP of an incident key (without its Split part).
func (d *Detection) BaseKey(key string) string {
	if d.Split == nil {
		return key
	}
	base, _, _ := strings.Cut(key, keySeparator)
	return base
}

// MemberOf returns what the detection counts distinct: the user for
// CountsUsers, else the sign-in identity.
func (d *Detection) MemberOf(c Candidate, identity string) string {
	if d.CountsUsers {
		return c.UserKey
	}
	return identity
}

// Tuning overrides a detection's defaults; zero fields keep them.
type Tuning struct {
	Window    time.Duration
	Threshold int
	// Codes: the error codes that qualify, for detections defined by
	// codes (password_spray).
	Codes []int
}

// DetectionsConfig tunes detections by scenario.
type DetectionsConfig map[string]Tuning

type registration struct {
	scenario string
	defaults Tuning
	build    func(Tuning) Detection
}

var registry []registration

// register adds a detection; each detection's file calls it from init.
func register(scenario string, defaults Tuning, build func(Tuning) Detection) {
	registry = append(registry, registration{scenario, defaults, build})
}

// Detections returns every registered detection, tuned by cfg, sorted by
// scenario. A threshold below 1 turns a detection off.
func Detections(cfg DetectionsConfig) []Detection {
	var out []Detection
	for _, r := range registry {
		t := r.defaults
		if o, ok := cfg[r.scenario]; ok {
			if o.Window > 0 {
				t.Window = o.Window
			}
			if o.Threshold != 0 {
				t.Threshold = o.Threshold
			}
			if len(o.Codes) > 0 {
				t.Codes = o.Codes
			}
		}
		if t.Threshold < 1 {
			continue
		}
		d := r.build(t)
		d.Scenario, d.Window, d.Threshold = r.scenario, t.Window, t.Threshold
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Scenario < out[j].Scenario })
	return out
}

// DefaultTuning is a registered detection's default tuning.
func DefaultTuning(scenario string) (Tuning, bool) {
	for _, r := range registry {
		if r.scenario == scenario {
			return r.defaults, true
		}
	}
	return Tuning{}, false
}

// windowWords: "10 minutes", "48 hours".
func windowWords(d time.Duration) string {
	if d >= time.Hour && d%time.Hour == 0 {
		return plural(int(d.Hours()), "hour", "hours")
	}
	if d%time.Minute == 0 {
		return plural(int(d.Minutes()), "minute", "minutes")
	}
	return d.String()
}

// span: "between 09:00:00 and 09:11:00 UTC on 2025-03-04".
func span(first, last time.Time) string {
	const day, clock = "2006-01-02", "15:04:05"
	if first.Format(day) == last.Format(day) {
		return fmt.Sprintf("between %s and %s UTC on %s", first.Format(clock), last.Format(clock), first.Format(day))
	}
	return fmt.Sprintf("between %s and %s UTC", first.Format(day+" "+clock), last.Format(day+" "+clock))
}

// subject names the key of a user detection: the latest sign-in's user, or
// the key itself.
func subject(v IncidentView) string {
	if v.Latest != nil {
		return who(v.Latest)
	}
	return "user " + v.Key
}

func containsCode(codes []int, c int) bool {
	for _, x := range codes {
		if x == c {
			return true
		}
	}
	return false
}

// codesWords: "50053, 50126 or 50055".
func codesWords(codes []int) string {
	s := make([]string, len(codes))
	for i, c := range codes {
		s[i] = fmt.Sprint(c)
	}
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}
