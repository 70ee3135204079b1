package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/signindiag/signindiag/pipeline/source/kafkatest"
	"github.com/signindiag/signindiag/queryapi"
	"github.com/signindiag/signindiag/sinks/clickhouse/clickhousetest"
	"github.com/signindiag/signindiag/spikes/report"
)

// TestFailureSpikeEndToEnd: a burst of Conditional Access blocks from one
// address, sent through Kafka to `signindiag run` with the detector on,
// raises one failure_spike incident per dimension it shows in (and keeps
// it one over many rounds), marks the bucket in /v1/spikes and in the
// detector's gauges, and `signindiag spikes` prints it.
func TestFailureSpikeEndToEnd(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	chCfg := clickhousetest.Config(t)
	prefix := kafkatest.UniqueName("spikes")
	kafkatest.CreateTopics(t, brokers, 3, prefix+"-signins")
	t.Cleanup(func() { kafkatest.DeleteTopics(brokers, topicNames(prefix)...) })

	// 40 blocks within one 5-minute bucket, ten minutes ago.
	bucket := time.Now().UTC().Truncate(5 * time.Minute).Add(-10 * time.Minute)
	var msgs [][]byte
	for i := range 40 {
		si := mkSignIn(fmt.Sprintf("blocked-%02d", i), fmt.Sprintf("user%02d", i%8), bucket.Add(time.Duration(i)*5*time.Second), 53003)
		si.IPAddress = "203.0.113.50"
		msgs = append(msgs, graphJSON(t, si))
	}
	proc := startProcess(t, "run", processEnv(brokers, chCfg, prefix, map[string]string{
		"SIGNINDIAG_SPIKES_DETECT": "true", "SIGNINDIAG_SPIKES_EVERY": "1s"}))
	proc.waitReady(t)
	kafkatest.Produce(t, brokers, prefix+"-signins", msgs...)
	conn := rawConn(t, chCfg)
	eventually(t, 60*time.Second, "all sign-ins stored", func() bool {
		return countDistinct(t, conn, chCfg.Database, "signins") == 40
	})

	spikeIncidents := func() map[string]queryapi.Incident {
		var list queryapi.IncidentList
		if code, err := proc.getJSON("/v1/incidents", &list); err != nil || code != http.StatusOK {
			t.Fatalf("/v1/incidents: %d %v", code, err)
		}
		out := map[string]queryapi.Incident{}
		for _, in := range list.Incidents {
			if in.Detection == "failure_spike" {
				if _, dup := out[in.Key]; dup {
					t.Errorf("two failure_spike incidents for %s", in.Key)
				}
				out[in.Key] = in
			}
		}
		return out
	}
	var first queryapi.Incident
	eventually(t, 30*time.Second, "a failure_spike incident for 53003", func() bool {
		var ok bool
		first, ok = spikeIncidents()["errorCode=53003"]
		return ok
	})
	// A batch's tables are written concurrently, so a round may run when
	// the sign-ins are stored but not yet all their facts: the incident
	// then opens with part of the burst and grows, as one incident, to
	// all of it.
	eventually(t, 30*time.Second, "the incident to count the whole burst", func() bool {
		grown := spikeIncidents()["errorCode=53003"]
		if grown.ID != first.ID {
			t.Fatalf("the incident for 53003 became %s, was %s", grown.ID, first.ID)
		}
		first = grown
		return first.Count >= 40
	})
	if first.Count != 40 || !first.StartedAt.Equal(bucket) || !strings.Contains(first.Summary, "203.0.113.50") {
		t.Errorf("incident %+v: want 40 failures from %s, naming the IP", first, bucket)
	}
	time.Sleep(3 * time.Second) // a few more rounds
	incs := spikeIncidents()
	for _, key := range []string{"errorCode=53003", "ip=203.0.113.50", "all=all", "country=", "app=Azure Portal", "clientApp=Browser"} {
		if _, ok := incs[key]; !ok {
			t.Errorf("no failure_spike incident for %s: %v", key, incs)
		}
	}
	if again := incs["errorCode=53003"]; again.ID != first.ID || again.Count != 40 {
		t.Errorf("after more rounds: %+v, want the same incident %s", again, first.ID)
	}

	var rep report.Report
	if code, err := proc.getJSON("/v1/spikes?by=errorCode", &rep); err != nil || code != http.StatusOK || len(rep.Series) != 1 {
		t.Fatalf("/v1/spikes: %d %v %+v", code, err, rep)
	}
	for _, b := range rep.Series[0].Buckets {
		if b.Spike != b.Start.Equal(bucket) || b.Start.Equal(bucket) && b.Count != 40 {
			t.Errorf("bucket %+v: want the spike at %s only", b, bucket)
		}
	}

	resp, err := http.Get(proc.url("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `signindiag_spike_active{dimension="errorCode",value="53003"} 1`) {
		t.Errorf("/metrics has no open spike for 53003")
	}

	for k, v := range processEnv(brokers, chCfg, prefix, nil) {
		t.Setenv(k, v)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"spikes", "--by", "errorCode", "--since", "1h"}, &stdout, &stderr); code != 0 {
		t.Fatalf("signindiag spikes: exit %d: %s", code, stderr.String())
	}
	want := strings.Join([]string{"errorCode", "53003", bucket.Format("2006-01-02 15:04"), "40"}, " ")
	if lines := strings.Split(strings.TrimSpace(stdout.String()), "\n"); len(lines) != 2 || !strings.HasPrefix(strings.Join(strings.Fields(lines[1]), " "), want) {
		t.Errorf("signindiag spikes printed:\n%s\nwant a row starting %q", stdout.String(), want)
	}
	proc.stop()
}
