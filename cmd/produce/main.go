// Command produce writes files to a Kafka topic, for demos and manual
// tests: a .jsonl file gives one message per line, any other file one
// message. Messages carry no key, as Entra's Event Hubs export sends them.
//
//	go run ./cmd/produce -topic signin-events testdata/demo/signins.jsonl
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

func main() {
	brokers := flag.String("brokers", os.Getenv("SIGNINDIAG_KAFKA_BROKERS"), "comma-separated host:port list (default $SIGNINDIAG_KAFKA_BROKERS)")
	topic := flag.String("topic", "signin-events", "topic to write to")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage: produce [-brokers host:port,...] [-topic name] FILE...\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *brokers == "" || flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	var msgs []kafka.Message
	for _, path := range flag.Args() {
		values, err := read(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "produce:", err)
			os.Exit(1)
		}
		for _, v := range values {
			msgs = append(msgs, kafka.Message{Value: v})
		}
	}
	w := &kafka.Writer{Addr: kafka.TCP(strings.Split(*brokers, ",")...), Topic: *topic,
		RequiredAcks: kafka.RequireAll, BatchTimeout: 10 * time.Millisecond, AllowAutoTopicCreation: true}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		fmt.Fprintln(os.Stderr, "produce:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %d messages to %s\n", len(msgs), *topic)
}

func read(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if filepath.Ext(path) != ".jsonl" {
		return [][]byte{data}, nil
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			out = append(out, append([]byte(nil), line...))
		}
	}
	return out, sc.Err()
}
