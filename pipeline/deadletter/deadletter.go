// Package deadletter builds the messages that carry rejected input to the
// dead-letter topic: the original bytes, untouched, with headers saying
// why and where from, so an operator can inspect, fix and replay them.
package deadletter

import (
	"strconv"

	"github.com/segmentio/kafka-go"

	"github.com/signindiag/signindiag/pipeline/source"
)

// Header names on dead-lettered messages.
const (
	HeaderReason          = "signindiag-reason"
	HeaderError           = "signindiag-error"
	HeaderSourceTopic     = "signindiag-source-topic"
	HeaderSourcePartition = "signindiag-source-partition"
	HeaderSourceOffset    = "signindiag-source-offset"
)

// Message wraps value (the whole record, or one bad record of a batch) for
// the dead-letter topic.
func Message(topic string, from source.Record, value []byte, reason string, err error) kafka.Message {
	return kafka.Message{
		Topic: topic,
		Key:   from.Key,
		Value: value,
		Headers: []kafka.Header{
			{Key: HeaderReason, Value: []byte(reason)},
			{Key: HeaderError, Value: []byte(err.Error())},
			{Key: HeaderSourceTopic, Value: []byte(from.Topic)},
			{Key: HeaderSourcePartition, Value: []byte(strconv.Itoa(from.Partition))},
			{Key: HeaderSourceOffset, Value: []byte(strconv.FormatInt(from.Offset, 10))},
		},
	}
}

// Header returns the value of a header, or "".
func Header(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
