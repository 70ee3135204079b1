package input

import (
	"context"

	"github.com/signindiag/signindiag/loadgen"
)

// Generate publishes the generator's stream (sign-ins to signInTopic,
// flags to flagTopic) until it ends or ctx does.
func Generate(ctx context.Context, gen *loadgen.Generator, signInTopic, flagTopic string, pub Publisher) (loadgen.Stats, error) {
	for {
		m, ok := gen.Next()
		if !ok {
			return gen.Stats(), nil
		}
		topic := signInTopic
		if m.Topic == loadgen.TopicFlags {
			topic = flagTopic
		}
		if err := pub.Publish(ctx, topic, m.Value); err != nil {
			return gen.Stats(), err
		}
	}
}
