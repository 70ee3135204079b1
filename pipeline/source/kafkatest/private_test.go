package kafkatest

import (
	"fmt"
	"testing"

	"github.com/signindiag/signindiag/internal/testenv"
)

func TestMain(m *testing.M) { testenv.VerifyNoLeaks(m) }

// A private broker keeps its address and its data across a clean stop, a
// crash and the starts after them.
func TestPrivateBrokerKeepsDataAcrossRestarts(t *testing.T) {
	b := StartPrivateBroker(t)
	brokers := b.Brokers()
	const topic = "private-restart"
	CreateTopics(t, brokers, 2, topic)
	var want []string
	produce := func(from, to int) {
		var values [][]byte
		for i := from; i < to; i++ {
			v := fmt.Sprintf("m-%03d", i)
			values = append(values, []byte(v))
			want = append(want, v)
		}
		Produce(t, brokers, topic, values...)
	}
	check := func(when string) {
		t.Helper()
		got := map[string]int{}
		for _, m := range ReadAll(t, brokers, topic) {
			got[string(m.Value)]++
		}
		for _, v := range want {
			if got[v] != 1 {
				t.Errorf("%s: %s read %d times, want once", when, v, got[v])
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d distinct messages, want %d", when, len(got), len(want))
		}
	}

	produce(0, 100)
	b.Stop()
	b.Start()
	if got := b.Brokers(); got[0] != brokers[0] {
		t.Fatalf("restarted on %v, want %v", got, brokers)
	}
	check("after a clean stop")
	produce(100, 200)
	b.Kill()
	b.Start()
	check("after a crash")
}
