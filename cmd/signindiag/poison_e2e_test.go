package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/signindiag/signindiag/pipeline/deadletter"
	"github.com/signindiag/signindiag/pipeline/poison"
	"github.com/signindiag/signindiag/pipeline/source/kafkatest"
	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/schemas/wire"
	"github.com/signindiag/signindiag/sinks/clickhouse/clickhousetest"
)

// With the time bounds off, a failed sign-in dated 2200 reaches both the
// diagnose and the spray stage, and ClickHouse's DateTime cannot hold it:
// each stage stores the rest of its batch, sends the record to the storage
// dead-letter topic with its source offset, commits, and keeps running.
func TestASignInStorageRejectsIsDeadLetteredAndTheRestStored(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	chCfg := clickhousetest.Config(t)
	prefix := kafkatest.UniqueName("poison")
	storageDLQ := prefix + "-storage-deadletter" // the default: <group>-storage-deadletter
	t.Cleanup(func() { kafkatest.DeleteTopics(brokers, topicNames(prefix)...) })
	proc := startProcess(t, "run", processEnv(brokers, chCfg, prefix, map[string]string{
		"SIGNINDIAG_MAX_EVENT_AGE": "0", "SIGNINDIAG_MAX_CLOCK_SKEW": "0", // no time bounds: rekey lets 2200 through
		"SIGNINDIAG_FLUSH_INTERVAL": "1s", // one batch for all of them, most likely
	}))
	proc.waitReady(t)

	// The bad one is user0's, among user0's others: it shares its batches
	// (same user, same IP) with rows storage accepts.
	future := mkSignIn("p-future", "user0", time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), 50126)
	var messages [][]byte
	for i := range 6 {
		if i == 3 {
			messages = append(messages, graphJSON(t, future))
		}
		messages = append(messages, graphJSON(t, mkSignIn(fmt.Sprintf("p-%d", i), fmt.Sprintf("user%d", i%3), e2eStart.Add(time.Duration(i)*time.Minute), 50126)))
	}
	kafkatest.Produce(t, brokers, prefix+"-signins", messages...)

	var dls []string
	eventually(t, 60*time.Second, "two storage dead letters", func() bool {
		dls = dls[:0]
		for _, m := range kafkatest.ReadAll(t, brokers, storageDLQ) {
			h := func(k string) string { return deadletter.Header(m, k) }
			if _, err := strconv.Atoi(h(deadletter.HeaderSourcePartition)); err != nil {
				t.Errorf("partition header %q", h(deadletter.HeaderSourcePartition))
			}
			if off, err := strconv.ParseInt(h(deadletter.HeaderSourceOffset), 10, 64); err != nil || off < 0 {
				t.Errorf("offset header %q", h(deadletter.HeaderSourceOffset))
			}
			if !strings.Contains(h(deadletter.HeaderError), "created_at 2200-01-01T00:00:00Z") {
				t.Errorf("error header %q does not say what was wrong", h(deadletter.HeaderError))
			}
			what := ""
			switch h(deadletter.HeaderSourceTopic) {
			case prefix + "-keyed": // the stored document: the sign-in as the keyed topic carries it
				var ev schemas.Event
				if err := wire.DecodeEvent(m.Value, &ev); err != nil || ev.SignIn == nil {
					t.Fatalf("keyed dead letter does not decode: %v", err)
				}
				what = ev.SignIn.ID
			case prefix + "-byip":
				var c wire.SprayCandidate
				if err := wire.DecodeSprayCandidate(m.Value, &c); err != nil {
					t.Fatalf("IP dead letter does not decode: %v", err)
				}
				what = string(m.Key)
			}
			dls = append(dls, h(deadletter.HeaderReason)+" "+h(deadletter.HeaderSourceTopic)+" "+what)
		}
		return len(dls) >= 2
	})
	want := map[string]bool{
		poison.Reason + " " + prefix + "-keyed p-future":           true,
		poison.Reason + " " + prefix + "-byip " + future.IPAddress: true,
	}
	if len(dls) != 2 || !want[dls[0]] || !want[dls[1]] || dls[0] == dls[1] {
		t.Fatalf("storage dead letters %q, want one from each stage", dls)
	}

	conn := rawConn(t, chCfg)
	eventually(t, 30*time.Second, "the six other sign-ins stored", func() bool {
		return countDistinct(t, conn, chCfg.Database, "signins") == 6
	})
	waitDurable(t, brokers, prefix) // every stage committed past the rejected record
	if n := countDistinct(t, conn, chCfg.Database, "signins"); n != 6 {
		t.Errorf("%d sign-ins stored, want 6", n)
	}
	var ipFailures uint64
	if err := conn.QueryRow(t.Context(), fmt.Sprintf("SELECT count() FROM %s.ip_failures WHERE identity LIKE '%%p-%%'", chCfg.Database)).Scan(&ipFailures); err != nil || ipFailures < 6 {
		t.Errorf("ip_failures: %d rows (%v), want the six others", ipFailures, err)
	}
	if m := proc.metricsText(t); !strings.Contains(m, `signindiag_records_deadlettered_total{reason="storage_rejected"} 2`) {
		t.Errorf("the dead-letter metric does not count two storage_rejected")
	}
	proc.waitReady(t) // still running and ready: no worker stopped
	proc.stop()
	if log, _ := os.ReadFile(proc.log); !strings.Contains(string(log), "storage rejected a record") {
		t.Errorf("the log does not say a record was dead-lettered")
	}
}
