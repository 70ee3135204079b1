package source

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/segmentio/kafka-go"
)

// TopicSpec describes a topic to create when it is missing.
type TopicSpec struct {
	Name       string
	Partitions int
	// ReplicationFactor of the topic; 0 leaves it to the broker's default.
	// With a factor, min.insync.replicas is set to min(2, factor) unless
	// Configs sets it.
	ReplicationFactor int
	// Configs are topic-level settings, e.g. retention.ms.
	Configs map[string]string
}

// MinInsyncReplicas is the min.insync.replicas of a topic with rf
// replicas: 2 where there are at least 2, so an acknowledged write
// survives the loss of a broker.
func MinInsyncReplicas(rf int) int { return min(2, rf) }

// DefaultReplicationFactor is min(3, brokers in the cluster).
func DefaultReplicationFactor(brokersInCluster int) int { return max(1, min(3, brokersInCluster)) }

// ReplicationFactor returns configured when it is positive, otherwise
// DefaultReplicationFactor of the brokers the cluster's metadata lists.
func ReplicationFactor(ctx context.Context, client *kafka.Client, configured int) (int, error) {
	if configured > 0 {
		return configured, nil
	}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{}})
	if err != nil {
		return 0, fmt.Errorf("cluster metadata (for the replication factor): %w", err)
	}
	return DefaultReplicationFactor(len(md.Brokers)), nil
}

// topicConfig is the creation request of one spec.
func (s TopicSpec) topicConfig() kafka.TopicConfig {
	tc := kafka.TopicConfig{Topic: s.Name, NumPartitions: s.Partitions, ReplicationFactor: -1}
	configs := maps.Clone(s.Configs)
	if s.ReplicationFactor > 0 {
		tc.ReplicationFactor = s.ReplicationFactor
		if _, ok := configs["min.insync.replicas"]; !ok {
			if configs == nil {
				configs = map[string]string{}
			}
			configs["min.insync.replicas"] = strconv.Itoa(MinInsyncReplicas(s.ReplicationFactor))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(configs)) {
		tc.ConfigEntries = append(tc.ConfigEntries, kafka.ConfigEntry{ConfigName: k, ConfigValue: configs[k]})
	}
	return tc
}

// EnsureTopics creates the topics that do not exist yet; existing topics
// are left as they are.
func EnsureTopics(ctx context.Context, client *kafka.Client, specs []TopicSpec) error {
	req := &kafka.CreateTopicsRequest{}
	for _, s := range specs {
		req.Topics = append(req.Topics, s.topicConfig())
	}
	resp, err := client.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	var errs []error
	for topic, err := range resp.Errors {
		if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("create topic %s: %w", topic, err))
		}
	}
	return errors.Join(errs...)
}

// PartitionCount returns the number of partitions of a topic.
func PartitionCount(ctx context.Context, client *kafka.Client, topic string) (int, error) {
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return 0, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	for _, t := range md.Topics {
		if t.Name == topic {
			if t.Error != nil {
				return 0, fmt.Errorf("metadata of %s: %w", topic, t.Error)
			}
			return len(t.Partitions), nil
		}
	}
	return 0, fmt.Errorf("metadata of %s: topic not found", topic)
}

// MissingTopics returns the topics the cluster's metadata does not list,
// in the order asked. It creates nothing: with a broker that auto-creates
// topics a metadata request naming them could, so it asks for all topics.
func MissingTopics(ctx context.Context, client *kafka.Client, topics []string) ([]string, error) {
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	have := map[string]bool{}
	for _, t := range md.Topics {
		if t.Error == nil {
			have[t.Name] = true
		}
	}
	var missing []string
	for _, t := range topics {
		if !have[t] && !slices.Contains(missing, t) {
			missing = append(missing, t)
		}
	}
	return missing, nil
}
