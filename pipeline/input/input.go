// Package input feeds the pipeline without Kafka: sign-ins from files or
// standard input, in every shape the sign-in topic accepts, and the
// traffic generator's stream. Both publish messages, as a producer would
// to the input topics; the stages read them back through the same Claims
// as on Kafka (pipeline/inproc), so they do not know Kafka is absent.
package input

import "context"

// Publisher takes input messages (inproc.Transport).
type Publisher interface {
	Publish(ctx context.Context, topic string, value []byte) error
}
