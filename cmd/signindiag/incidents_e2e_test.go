package main

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/signindiag/signindiag/pipeline/incident"
	"github.com/signindiag/signindiag/pipeline/source/kafkatest"
	"github.com/signindiag/signindiag/queryapi"
	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks/clickhouse/clickhousetest"
)

// TestIncidentsShowOnEveryMemberInAnyDeliveryOrder sends, as Entra does
// (one sign-in per message, unkeyed, round-robin over six partitions), a
// fatigue burst (12 denials a minute apart), a spray (25 users failing with
// 50126 from one IP within 12 minutes) and an excessive-failures run (11
// failures over 10 hours), once in time order and once in reverse order
// (other users and IP), and checks that every member sign-in's diagnosis
// shows its incident, with the id its start determines.
func TestIncidentsShowOnEveryMemberInAnyDeliveryOrder(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	chCfg := clickhousetest.Config(t)
	prefix := kafkatest.UniqueName("incidents")
	kafkatest.CreateTopics(t, brokers, 6, prefix+"-signins")
	t.Cleanup(func() { kafkatest.DeleteTopics(brokers, topicNames(prefix)...) })

	type member struct {
		id        string
		detection string
		key       string
	}
	type run struct {
		messages [][]byte
		members  []member
		// wantStart: the incident's start per detection (the event that
		// completes the first window reaching the threshold).
		wantStart map[string]time.Time
		keys      map[string]string
	}
	build := func(name string, reverse bool) run {
		r := run{wantStart: map[string]time.Time{}, keys: map[string]string{}}
		var signIns []schemas.SignIn
		fay := "fay" + name
		for i := range 12 {
			si := mkSignIn(fmt.Sprintf("%s-%02d", fay, i), fay, e2eStart.Add(time.Duration(i)*time.Minute), 500121)
			si.Status.AdditionalDetails = "MFA denied; user declined the authentication"
			signIns = append(signIns, si)
			r.members = append(r.members, member{si.ID, "mfa_fatigue", si.UserKey()})
		}
		r.wantStart["mfa_fatigue"], r.keys["mfa_fatigue"] = e2eStart.Add(9*time.Minute), "id-"+fay
		ip := "198.51.100.7" + name
		for i := range 25 {
			si := mkSignIn(fmt.Sprintf("spray%s-%02d", name, i), fmt.Sprintf("victim%s%02d", name, i),
				e2eStart.Add(2*time.Hour+time.Duration(i)*30*time.Second), 50126)
			si.IPAddress = ip
			signIns = append(signIns, si)
			r.members = append(r.members, member{si.ID, "password_spray", ip})
		}
		r.wantStart["password_spray"], r.keys["password_spray"] = e2eStart.Add(2*time.Hour+2*time.Minute), ip
		gus := "gus" + name
		for i := range 11 {
			si := mkSignIn(fmt.Sprintf("%s-%02d", gus, i), gus, e2eStart.Add(4*time.Hour+time.Duration(i)*time.Hour), 50126)
			signIns = append(signIns, si)
			r.members = append(r.members, member{si.ID, "excessive_failures_48h", si.UserKey()})
		}
		r.wantStart["excessive_failures_48h"], r.keys["excessive_failures_48h"] = e2eStart.Add(13*time.Hour), "id-"+gus
		if reverse {
			for i, j := 0, len(signIns)-1; i < j; i, j = i+1, j-1 {
				signIns[i], signIns[j] = signIns[j], signIns[i]
			}
		}
		for _, si := range signIns {
			r.messages = append(r.messages, graphJSON(t, si))
		}
		return r
	}
	runs := map[string]run{"1": build("1", false), "2": build("2", true)}

	proc := startProcess(t, "run", processEnv(brokers, chCfg, prefix, nil))
	proc.waitReady(t)
	for _, name := range []string{"1", "2"} {
		kafkatest.Produce(t, brokers, prefix+"-signins", runs[name].messages...)
	}
	conn := rawConn(t, chCfg)
	eventually(t, 60*time.Second, "all sign-ins stored", func() bool {
		return countDistinct(t, conn, chCfg.Database, "signins") == 2*48
	})
	waitDurable(t, brokers, prefix)

	for _, name := range []string{"1", "2"} {
		r := runs[name]
		for _, m := range r.members {
			var d queryapi.Diagnosis
			if code, err := proc.getJSON("/v1/diagnose?requestId="+m.id, &d); err != nil || code != http.StatusOK {
				t.Fatalf("%s: %d %v", m.id, code, err)
			}
			wantID := incident.IncidentID(m.detection, r.keys[m.detection], r.wantStart[m.detection])
			var found *schemas.Finding
			for i, f := range d.DiagnosticResults {
				if f.Scenario == m.detection {
					found = &d.DiagnosticResults[i]
				}
			}
			if found == nil || found.IncidentID != wantID || found.Evidence == nil {
				t.Errorf("run %s, %s: %s incident %s missing: %+v", name, m.id, m.detection, wantID, d.DiagnosticResults)
			}
		}
		// One incident per detection and key, with every member counted.
		for detection, key := range r.keys {
			var list queryapi.IncidentList
			if code, err := proc.getJSON(fmt.Sprintf("/v1/incidents?detection=%s&key=%s", detection, key), &list); err != nil || code != http.StatusOK {
				t.Fatalf("incidents: %d %v", code, err)
			}
			want := map[string]int{"mfa_fatigue": 12, "password_spray": 25, "excessive_failures_48h": 11}[detection]
			if len(list.Incidents) != 1 || list.Incidents[0].Count != want || !list.Incidents[0].StartedAt.Equal(r.wantStart[detection]) {
				t.Errorf("run %s: %s incidents of %s: %+v", name, detection, key, list.Incidents)
			}
		}
	}
	// Reverse order raised incidents that earlier events then superseded:
	// the late-filling path ran, and the API hid them.
	var superseded uint64
	if err := conn.QueryRow(context.Background(), fmt.Sprintf("SELECT count() FROM %s.incidents WHERE superseded_by != ''", chCfg.Database)).Scan(&superseded); err != nil {
		t.Fatal(err)
	}
	if superseded == 0 {
		t.Error("no incident was superseded: reverse delivery did not exercise late filling")
	}
	t.Logf("%d superseded incident rows", superseded)
	proc.stop()
}
