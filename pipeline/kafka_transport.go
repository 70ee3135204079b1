package pipeline

import (
	"context"
	"log/slog"

	"github.com/signindiag/signindiag/pipeline/publish"
	"github.com/signindiag/signindiag/pipeline/source"
)

// kafkaTransport runs the stages on Kafka: the inputs on Config.Source,
// the internal topics on Config.Internal (or Source), consumer groups
// sharing the partitions among processes.
type kafkaTransport struct {
	r   *Runner
	log *slog.Logger
}

// Start checks the clusters, creates or checks the topics and opens the
// producer, its batches bounded by the output topics' limits.
func (t kafkaTransport) Start(ctx context.Context, topics TopicSet) (Output, error) {
	r := t.r
	// A wrong password, an untrusted certificate or a listener speaking
	// another protocol fails here, fast and in one line, rather than in
	// consumers that retry for ever.
	for _, c := range r.clusters() {
		if err := c.Check(ctx); err != nil {
			return nil, err
		}
	}
	if err := r.prepareTopics(ctx, topics); err != nil {
		return nil, err
	}
	// The output topics' limits bound the producer's batches, so the
	// broker never refuses one (a refused batch would be retried for
	// ever). A cluster that does not serve DescribeConfigs (a managed
	// service may not) gets the broker's default limit, which is also the
	// limit of Azure Event Hubs' Standard tier; connectivity and
	// credentials were checked above, so this error is not one of theirs.
	limits, err := publish.ReadLimits(ctx, r.internal(), topics.Outputs)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		t.log.Warn("cannot read the output topics' max.message.bytes; assuming the broker default", "err", err,
			"max_message_bytes", publish.DefaultMaxMessageBytes)
		limits = publish.Limits{}
	}
	return publish.New(publish.Config{Cluster: r.internal(), Limits: limits, Compression: Compressions[r.cfg.Compression]}), nil
}

// Consume joins the stage's consumer group on its cluster.
func (t kafkaTransport) Consume(ctx context.Context, sub Subscription, handle func(context.Context, Claim) error) error {
	cluster := t.r.internal()
	if sub.ReadsInput {
		cluster = t.r.cfg.Source
	}
	group := source.NewGroup(source.Config{Brokers: cluster.Brokers, Dialer: cluster.Dialer(), GroupID: sub.Group,
		Topics: sub.Topics, SessionTimeout: t.r.cfg.SessionTimeout, Observer: sub.Observer}, t.log)
	return group.Run(ctx, func(ctx context.Context, c *source.Claim) error { return handle(ctx, c) })
}
