// Package deadletter builds the messages that carry rejected input to the
// dead-letter topic: the original bytes, untouched, with headers saying
// why and where from, so an operator can inspect, fix and replay them.
package deadletter

import (
	"strconv"

	"github.com/segmentio/kafka-go"

	"github.com/signindiag/signindiag/pipeline/publish"
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
		Time:  from.Time,
		Value: value,
		Headers: []kafka.Header{
			{Key: HeaderReason, Value: []byte(reason)},
			{Key: HeaderError, Value: errorText(err)},
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

// HeaderTruncated is set on a dead letter whose value was cut to fit the
// dead-letter topic; it holds the original length in bytes.
const HeaderTruncated = "signindiag-truncated"

// maxErrorHeader bounds the error text carried in a header.
const maxErrorHeader = 1024

// Truncate cuts m's value so the whole message fits in maxBytes (as
// publish.Size counts it), recording the original length in a header. The
// head of the record is kept: it says what the record was.
func Truncate(m *kafka.Message, maxBytes int) {
	if publish.Size(m) <= maxBytes {
		return
	}
	original := len(m.Value)
	m.Headers = append(m.Headers, kafka.Header{Key: HeaderTruncated, Value: []byte(strconv.Itoa(original))})
	keep := max(len(m.Value)-(publish.Size(m)-maxBytes), 0)
	m.Value = m.Value[:keep:keep]
}

func errorText(err error) []byte {
	text := err.Error()
	if len(text) > maxErrorHeader {
		text = text[:maxErrorHeader]
	}
	return []byte(text)
}
