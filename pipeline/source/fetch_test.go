package source

import (
	"context"
	"errors"
	"testing"

	"github.com/segmentio/kafka-go"
)

type scriptedFetcher struct{ answers []error }

func (f *scriptedFetcher) FetchMessage(context.Context) (kafka.Message, error) {
	err := f.answers[0]
	f.answers = f.answers[1:]
	if err != nil {
		return kafka.Message{}, err
	}
	return kafka.Message{Offset: 7}, nil
}

// A partition whose leader is not elected yet, or a broker that is
// restarting, must not end the worker (and with it the process): the
// fetch waits and asks again. An authorisation failure ends it.
func TestFetchRetriesWhatPassesAndReturnsWhatDoesNot(t *testing.T) {
	f := &scriptedFetcher{answers: []error{kafka.NotLeaderForPartition, errors.New("dial tcp: connection refused"), nil}}
	m, err := fetchRetrying(context.Background(), f)
	if err != nil || m.Offset != 7 {
		t.Fatalf("after two passing errors: message %d, err %v; want offset 7", m.Offset, err)
	}
	f = &scriptedFetcher{answers: []error{kafka.TopicAuthorizationFailed}}
	if _, err := fetchRetrying(context.Background(), f); !errors.Is(err, kafka.TopicAuthorizationFailed) {
		t.Fatalf("authorisation failure: err %v, want it returned", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f = &scriptedFetcher{answers: []error{context.Canceled}}
	if _, err := fetchRetrying(ctx, f); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: err %v", err)
	}
}
