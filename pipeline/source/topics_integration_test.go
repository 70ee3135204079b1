package source_test

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/signindiag/signindiag/pipeline/kafkaconn"
	"github.com/signindiag/signindiag/pipeline/source"
	"github.com/signindiag/signindiag/pipeline/source/kafkatest"
)

// Against the test cluster: the default factor is min(3, its brokers), and
// a topic created with it carries min.insync.replicas = min(2, factor).
func TestEnsureTopicsSetsReplication(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := &kafka.Client{Addr: kafka.TCP(brokers...)}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	rf, err := source.ReplicationFactor(ctx, kafkaconn.Plain(brokers).Client(0), 0)
	if err != nil || rf != min(3, len(md.Brokers)) {
		t.Fatalf("default factor %d (%v) with %d brokers", rf, err, len(md.Brokers))
	}
	if got, _ := source.ReplicationFactor(ctx, kafkaconn.Plain(brokers).Client(0), 2); got != 2 {
		t.Fatalf("configured factor 2 → %d", got)
	}
	name := kafkatest.UniqueName("rf")
	t.Cleanup(func() { kafkatest.DeleteTopics(brokers, name) })
	if err := source.EnsureTopics(ctx, kafkaconn.Plain(brokers).Client(0), []source.TopicSpec{{Name: name, Partitions: 2, ReplicationFactor: rf}}); err != nil {
		t.Fatal(err)
	}
	tmd, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{name}})
	if err != nil || len(tmd.Topics) != 1 || len(tmd.Topics[0].Partitions) != 2 || len(tmd.Topics[0].Partitions[0].Replicas) != rf {
		t.Fatalf("topic metadata: %+v %v, want %d replicas", tmd, err, rf)
	}
	resp, err := client.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: name, ConfigNames: []string{"min.insync.replicas"}}}})
	if err != nil || len(resp.Resources) != 1 || len(resp.Resources[0].ConfigEntries) != 1 {
		t.Fatalf("describe configs: %+v %v", resp, err)
	}
	if e := resp.Resources[0].ConfigEntries[0]; e.ConfigValue != "1" && rf == 1 || e.ConfigValue != "2" && rf > 1 {
		t.Fatalf("min.insync.replicas = %s with factor %d", e.ConfigValue, rf)
	}
	// Set on the topic, not inherited from the broker (1 = DYNAMIC_TOPIC_CONFIG).
	if e := resp.Resources[0].ConfigEntries[0]; e.ConfigSource != 1 {
		t.Fatalf("min.insync.replicas comes from config source %d, not the topic", e.ConfigSource)
	}
}
