package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/signindiag/signindiag/pipeline/kafkaconn"
	"github.com/signindiag/signindiag/pipeline/source"
)

// internal is the cluster of the internal topics.
func (r *Runner) internal() kafkaconn.Cluster {
	if len(r.cfg.Internal.Brokers) == 0 {
		return r.cfg.Source
	}
	return r.cfg.Internal
}

// separateInternal reports whether the internal topics live on a cluster
// of their own.
func (r *Runner) separateInternal() bool { return len(r.cfg.Internal.Brokers) > 0 }

// clusters are the clusters the runner connects to.
func (r *Runner) clusters() []kafkaconn.Cluster {
	if r.separateInternal() {
		return []kafkaconn.Cluster{r.cfg.Source, r.cfg.Internal}
	}
	return []kafkaconn.Cluster{r.cfg.Source}
}

// prepareTopics creates the missing topics where creation is on, and
// otherwise checks that they exist: an Event Hubs namespace refuses to
// create topics (event hubs are made in Azure), and a consumer of a topic
// that does not exist would wait for it for ever. Every missing topic of
// every cluster is named in one error.
func (r *Runner) prepareTopics(ctx context.Context, ts TopicSet) error {
	// The topics of the stages that read the input cluster live there;
	// every other topic read or written is internal.
	inputs, internals := ts.Inputs, ts.Internal
	type group struct {
		cluster kafkaconn.Cluster
		topics  []string
		create  bool
	}
	groups := []group{{r.cfg.Source, inputs, r.cfg.CreateTopics}, {r.internal(), internals, r.cfg.CreateInternalTopics}}
	if !r.separateInternal() && r.cfg.CreateTopics == r.cfg.CreateInternalTopics {
		groups = []group{{r.cfg.Source, append(inputs, internals...), r.cfg.CreateTopics}}
	}
	var missing []string
	for _, g := range groups {
		if g.create {
			specs, err := r.topicSpecs(ctx, g.cluster, g.topics)
			if err != nil {
				return err
			}
			if err := source.EnsureTopics(ctx, g.cluster.Client(0), specs); err != nil {
				return err
			}
			continue
		}
		m, err := source.MissingTopics(ctx, g.cluster.Client(0), g.topics)
		if err != nil {
			return fmt.Errorf("kafka %s: %w", strings.Join(g.cluster.Brokers, ","), err)
		}
		if len(m) > 0 {
			missing = append(missing, fmt.Sprintf("%s on %s", strings.Join(m, ", "), strings.Join(g.cluster.Brokers, ",")))
		}
	}
	if len(missing) > 0 {
		return errors.New("topics missing and topic creation is off: " + strings.Join(missing, "; ") +
			" (create them first; on Azure Event Hubs each topic is an event hub of the namespace)")
	}
	return nil
}

// topicSpecs are the topics the runner creates when missing: with the
// configured replication factor (by default min(3, brokers in the
// cluster)) and min.insync.replicas = min(2, factor), so the rekey
// stage's acks=all writes survive a broker's loss.
func (r *Runner) topicSpecs(ctx context.Context, cluster kafkaconn.Cluster, names []string) ([]source.TopicSpec, error) {
	rf, err := source.ReplicationFactor(ctx, cluster.Client(0), r.cfg.ReplicationFactor)
	if err != nil {
		return nil, err
	}
	var specs []source.TopicSpec
	for _, name := range names {
		specs = append(specs, source.TopicSpec{Name: name, Partitions: r.cfg.Partitions, ReplicationFactor: rf})
	}
	return specs, nil
}
