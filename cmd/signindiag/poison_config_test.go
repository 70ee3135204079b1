package main

import (
	"context"
	"testing"

	"github.com/sethvargo/go-envconfig"
)

func TestStorageDeadLetterTopicDerivesFromTheGroup(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "signindiag-storage-deadletter"},
		{map[string]string{"SIGNINDIAG_KAFKA_GROUP": "tenant-a"}, "tenant-a-storage-deadletter"},
		{map[string]string{"SIGNINDIAG_KAFKA_STORAGE_DLQ_TOPIC": "ops-storage-dl"}, "ops-storage-dl"},
	} {
		c.env["SIGNINDIAG_KAFKA_BROKERS"] = "127.0.0.1:9092"
		cfg, err := loadConfig(context.Background(), envconfig.MapLookuper(c.env), true)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Kafka.StorageDLQTopic != c.want {
			t.Errorf("env %v: storage dead-letter topic %q, want %q", c.env, cfg.Kafka.StorageDLQTopic, c.want)
		}
	}
}
