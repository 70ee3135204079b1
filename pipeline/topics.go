package pipeline

import (
	"context"

	"github.com/signindiag/signindiag/pipeline/source"
)

// topicSpecs are the topics the runner creates when missing: with the
// configured replication factor (by default min(3, brokers in the
// cluster)) and min.insync.replicas = min(2, factor), so the rekey
// stage's acks=all writes survive a broker's loss.
func (r *Runner) topicSpecs(ctx context.Context) ([]source.TopicSpec, error) {
	rf, err := source.ReplicationFactor(ctx, r.cfg.Brokers, r.cfg.ReplicationFactor)
	if err != nil {
		return nil, err
	}
	var specs []source.TopicSpec
	inputs, outputs := r.topics()
	for _, name := range append(inputs, outputs...) {
		specs = append(specs, source.TopicSpec{Name: name, Partitions: r.cfg.Partitions, ReplicationFactor: rf})
	}
	return specs, nil
}
