package main

import (
	"strings"
	"testing"
	"time"

	"github.com/signindiag/signindiag/pipeline/deadletter"
	"github.com/signindiag/signindiag/pipeline/rekey"
	"github.com/signindiag/signindiag/pipeline/source/kafkatest"
	"github.com/signindiag/signindiag/sinks/clickhouse/clickhousetest"
)

// With the default bounds, a sign-in dated years back or in the future is
// dead-lettered as time_out_of_range and never stored; a recent one is.
func TestSignInsOutsideTheTimeBoundsAreDeadLettered(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	chCfg := clickhousetest.Config(t)
	prefix := kafkatest.UniqueName("times")
	t.Cleanup(func() { kafkatest.DeleteTopics(brokers, topicNames(prefix)...) })
	env := processEnv(brokers, chCfg, prefix, nil)
	delete(env, "SIGNINDIAG_MAX_EVENT_AGE") // the defaults: 90 days back, 15 minutes ahead
	proc := startProcess(t, "run", env)
	proc.waitReady(t)

	now := time.Now().UTC()
	kafkatest.Produce(t, brokers, prefix+"-signins",
		graphJSON(t, mkSignIn("old", "tim", now.Add(-91*24*time.Hour), 50126)),
		graphJSON(t, mkSignIn("future", "tim", now.Add(time.Hour), 50126)),
		graphJSON(t, mkSignIn("recent", "tim", now.Add(-time.Hour), 50126)))
	conn := rawConn(t, chCfg)
	eventually(t, 30*time.Second, "the recent sign-in stored", func() bool {
		return countDistinct(t, conn, chCfg.Database, "signins") >= 1
	})
	var reasons []string
	eventually(t, 30*time.Second, "two dead letters", func() bool {
		reasons = reasons[:0]
		for _, m := range kafkatest.ReadAll(t, brokers, prefix+"-dlq") {
			reasons = append(reasons, deadletter.Header(m, deadletter.HeaderReason))
		}
		return len(reasons) >= 2
	})
	if m := proc.metricsText(t); !strings.Contains(m, `signindiag_records_deadlettered_total{reason="time_out_of_range"} 2`) {
		t.Errorf("the dead-letter metric does not count two time_out_of_range")
	}
	proc.stop()
	if len(reasons) != 2 || reasons[0] != rekey.ReasonTimeOutOfRange || reasons[1] != rekey.ReasonTimeOutOfRange {
		t.Errorf("dead-letter reasons %v, want two %s", reasons, rekey.ReasonTimeOutOfRange)
	}
	if n := countDistinct(t, conn, chCfg.Database, "signins"); n != 1 {
		t.Errorf("%d sign-ins stored, want the recent one only", n)
	}
}
