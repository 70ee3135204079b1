package source

import (
	"testing"
)

func TestReplicationDefaults(t *testing.T) {
	for brokers, want := range map[int]int{0: 1, 1: 1, 2: 2, 3: 3, 5: 3} {
		if got := DefaultReplicationFactor(brokers); got != want {
			t.Errorf("DefaultReplicationFactor(%d) = %d, want %d", brokers, got, want)
		}
	}
	for rf, want := range map[int]int{1: 1, 2: 2, 3: 2, 5: 2} {
		if got := MinInsyncReplicas(rf); got != want {
			t.Errorf("MinInsyncReplicas(%d) = %d, want %d", rf, got, want)
		}
	}
}

func TestTopicConfigCarriesReplication(t *testing.T) {
	tc := TopicSpec{Name: "t", Partitions: 6, ReplicationFactor: 3, Configs: map[string]string{"retention.ms": "1000"}}.topicConfig()
	if tc.ReplicationFactor != 3 || len(tc.ConfigEntries) != 2 ||
		tc.ConfigEntries[0].ConfigName != "min.insync.replicas" || tc.ConfigEntries[0].ConfigValue != "2" ||
		tc.ConfigEntries[1].ConfigName != "retention.ms" {
		t.Errorf("rf 3: %+v", tc)
	}
	tc = TopicSpec{Name: "t", Partitions: 6, ReplicationFactor: 3, Configs: map[string]string{"min.insync.replicas": "3"}}.topicConfig()
	if len(tc.ConfigEntries) != 1 || tc.ConfigEntries[0].ConfigValue != "3" {
		t.Errorf("explicit min.insync.replicas: %+v", tc)
	}
	tc = TopicSpec{Name: "t", Partitions: 6}.topicConfig()
	if tc.ReplicationFactor != -1 || len(tc.ConfigEntries) != 0 {
		t.Errorf("no factor: %+v", tc)
	}
}
