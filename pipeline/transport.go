package pipeline

import (
	"context"

	"github.com/segmentio/kafka-go"

	"github.com/signindiag/signindiag/pipeline/source"
)

// Transport carries records into the stages and between them: Kafka
// (the default, kafkaTransport) when the stages may run in many processes,
// or in-process queues (pipeline/inproc) when one process does everything.
// The stages see only Claims and an Output, so they do not know which.
type Transport interface {
	// Start prepares the topics and returns the producer of the stages'
	// output.
	Start(ctx context.Context, topics TopicSet) (Output, error)
	// Consume runs one consumer group until ctx ends (nil) or handle
	// fails (its error), calling handle for each partition the group is
	// given, concurrently.
	Consume(ctx context.Context, sub Subscription, handle func(context.Context, Claim) error) error
}

// TopicSet names the topics of the pipeline.
type TopicSet struct {
	// Inputs are read from the source (Entra's sign-ins, flags).
	Inputs []string
	// Internal are the topics the stages write and read back, and the
	// dead letters; Outputs, those written.
	Internal, Outputs []string
}

// Output is where the stages write: the re-keyed events, the dead letters.
// WriteMessages is synchronous: nil means every message is stored; an
// error retrying cannot fix wraps ErrPermanent.
type Output interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
	// MaxMessageBytes is the largest message (as publish.Size counts it)
	// every output topic accepts.
	MaxMessageBytes() int
	Close() error
}

// Subscription is one stage's consumer group.
type Subscription struct {
	Group  string
	Topics []string
	// ReadsInput: Topics are input topics (Config.Source's cluster), not
	// internal ones.
	ReadsInput bool
	// Observer hears of the group's generations.
	Observer source.Observer
}
