// Package evidence summarises the failures behind a windowed finding the
// same way over every backend (sinks.Reader.Evidence): the backend reads
// the failures of one user or IP in the window, one per sign-in (its
// latest version), and Tally counts them.
package evidence

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/signindiag/signindiag/schemas"
)

// Top is how many values per dimension evidence lists.
const Top = 3

// Failure is one failed sign-in as evidence counts it.
type Failure struct {
	UserKey, UPN, App, IP, Device, Client string
	Code                                  int
}

// Tally counts failures by dimension.
type Tally struct {
	failures int
	users    map[string]bool
	dims     map[string]map[string]int
}

// NewTally starts an empty count.
func NewTally() *Tally {
	return &Tally{users: map[string]bool{}, dims: map[string]map[string]int{}}
}

// Add counts one failure.
func (t *Tally) Add(f Failure) {
	t.failures++
	t.users[f.UserKey] = true
	t.add("app", f.App)
	t.add("ip", f.IP)
	t.add("device", f.Device)
	t.add("client", f.Client)
	t.add("code", strconv.Itoa(f.Code))
	if f.UPN != "" {
		t.add("user", f.UPN)
	} else {
		t.add("user", f.UserKey)
	}
}

func (t *Tally) add(dim, v string) {
	if v == "" {
		return
	}
	if t.dims[dim] == nil {
		t.dims[dim] = map[string]int{}
	}
	t.dims[dim][v]++
}

// Evidence is the summary of the window (from, to].
func (t *Tally) Evidence(from, to time.Time) *schemas.Evidence {
	return &schemas.Evidence{WindowStart: from, WindowEnd: to, Failures: t.failures, DistinctUsers: len(t.users),
		TopUsers: top(t.dims["user"]), TopApps: top(t.dims["app"]), TopIPs: top(t.dims["ip"]), TopDevices: top(t.dims["device"]),
		TopClients: top(t.dims["client"]), TopCodes: top(t.dims["code"])}
}

// top returns the Top most frequent values, by count then value.
func top(counts map[string]int) []schemas.Count {
	var out []schemas.Count
	for v, c := range counts {
		out = append(out, schemas.Count{Value: v, Count: c})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Value < out[j].Value
	})
	if len(out) > Top {
		out = out[:Top]
	}
	return out
}

// Device names a sign-in's device as evidence counts it: its name when
// registered, else its operating system and browser. Stores keep it in
// their failure rows.
func Device(si *schemas.SignIn) string {
	d := si.DeviceDetail
	if d.DisplayName != "" {
		return d.DisplayName
	}
	return strings.TrimSpace(d.OperatingSystem + " " + d.Browser)
}
