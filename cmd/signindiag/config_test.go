package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
)

func TestConfigDefaults(t *testing.T) {
	cfg, err := loadConfig(context.Background(), envconfig.MapLookuper(map[string]string{
		"SIGNINDIAG_KAFKA_BROKERS": "127.0.0.1:9092,127.0.0.2:9092",
	}), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Kafka.Brokers) != 2 || cfg.Kafka.SignInTopic != "signin-events" || cfg.Kafka.FlagTopic != "signin-flags" ||
		cfg.Kafka.DLQTopic != "signin-deadletter" || cfg.Kafka.Group != "signindiag" || cfg.Kafka.Partitions != 6 || !cfg.Kafka.CreateTopics {
		t.Errorf("kafka defaults: %+v", cfg.Kafka)
	}
	if cfg.ClickHouse.Addr != "127.0.0.1:9000" || cfg.ClickHouse.Database != "signindiag" || cfg.HTTPAddr != "127.0.0.1:8080" ||
		cfg.Window != 48*time.Hour || cfg.AllowedLateness != 48*time.Hour || cfg.FailureThreshold != 10 ||
		cfg.EventTime.MaxEventAge != 90*24*time.Hour || cfg.EventTime.MaxClockSkew != 15*time.Minute {
		t.Errorf("defaults: %+v", cfg)
	}
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	cases := []struct {
		env       map[string]string
		needKafka bool
		want      string
	}{
		{map[string]string{"SIGNINDIAG_KAFKA_PARTITIONS": "six"}, true, "SIGNINDIAG_KAFKA_PARTITIONS: expected a whole number"},
		{map[string]string{"SIGNINDIAG_WINDOW": "two days"}, false, "SIGNINDIAG_WINDOW: expected a Go duration"},
		{map[string]string{"SIGNINDIAG_KAFKA_CREATE_TOPICS": "maybe"}, false, "SIGNINDIAG_KAFKA_CREATE_TOPICS: expected true or false"},
		{map[string]string{"SIGNINDIAG_CLICKHOUSE_DIAL_TIMEOUT": "soon"}, false, "SIGNINDIAG_CLICKHOUSE_DIAL_TIMEOUT: expected a Go duration"},
		{map[string]string{}, true, "SIGNINDIAG_KAFKA_BROKERS: expected a comma-separated list"},
		{map[string]string{"SIGNINDIAG_KAFKA_BROKERS": "nohost"}, true, `SIGNINDIAG_KAFKA_BROKERS: expected host:port, got "nohost"`},
		{map[string]string{"SIGNINDIAG_FAILURE_THRESHOLD": "0"}, false, "SIGNINDIAG_FAILURE_THRESHOLD: expected a whole number of at least 1"},
		{map[string]string{"SIGNINDIAG_WINDOW": "-1h"}, false, "SIGNINDIAG_WINDOW: expected a positive duration"},
		{map[string]string{"SIGNINDIAG_CLICKHOUSE_DATABASE": "x; DROP"}, false, "SIGNINDIAG_CLICKHOUSE_DATABASE: expected letters"},
		{map[string]string{"SIGNINDIAG_HTTP_ADDR": "8080"}, false, "SIGNINDIAG_HTTP_ADDR: expected [host]:port"},
		{map[string]string{"SIGNINDIAG_MAX_CLOCK_SKEW": "-1m"}, false, "SIGNINDIAG_MAX_CLOCK_SKEW: expected a duration of 0"},
	}
	for _, c := range cases {
		_, err := loadConfig(context.Background(), envconfig.MapLookuper(c.env), c.needKafka)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("env %v: err = %v, want %q", c.env, err, c.want)
		}
	}
	// Serving needs no Kafka.
	if _, err := loadConfig(context.Background(), envconfig.MapLookuper(nil), false); err != nil {
		t.Errorf("serve without Kafka: %v", err)
	}
}

func TestRulesFileExtendsTheCatalogue(t *testing.T) {
	dir := t.TempDir()
	good := dir + "/rules.json"
	writeFile(t, good, `[{"code": 4242424, "name": "TenantSpecificError", "meaning": "ours", "category": "custom", "kind": "I", "remediation": "Nothing to do."}]`)
	cat, err := loadCatalog(good)
	if err != nil {
		t.Fatal(err)
	}
	if cat.IsFailure(4242424) {
		t.Error("the override made 4242424 an interrupt, yet it counts as a failure")
	}
	bad := dir + "/bad.json"
	writeFile(t, bad, `[{"code": 1, "kind": "X"}]`)
	if _, err := loadCatalog(bad); err == nil || !strings.Contains(err.Error(), "SIGNINDIAG_RULES_FILE") {
		t.Errorf("malformed rules file: err = %v", err)
	}
	if _, err := loadCatalog(dir + "/missing.json"); err == nil {
		t.Error("missing rules file accepted")
	}
}

func TestCommandLineHelpAndUnknownCommands(t *testing.T) {
	var out, errOut strings.Builder
	if code := run([]string{"--help"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "migrate") {
		t.Errorf("--help: %d %q", code, out.String())
	}
	out.Reset()
	if code := run([]string{"ingest", "--help"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "signindiag ingest") {
		t.Errorf("ingest --help: %d %q", code, out.String())
	}
	if code := run([]string{"frobnicate"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "unknown command") {
		t.Errorf("unknown command: %d %q", code, errOut.String())
	}
}

// TestNestedConfigKeepsTheVariableNames: the settings the stages and rules
// define (pipeline.LoopConfig, rekey.TimeBounds, rules.SprayConfig,
// rules.FatigueConfig) are read from the same variables as before they
// moved into their packages, and their errors name those variables.
func TestNestedConfigKeepsTheVariableNames(t *testing.T) {
	cfg, err := loadConfig(context.Background(), envconfig.MapLookuper(map[string]string{
		"SIGNINDIAG_KAFKA_BROKERS": "k:9092",
		"SIGNINDIAG_SPRAY_WINDOW":  "7m", "SIGNINDIAG_SPRAY_THRESHOLD": "4", "SIGNINDIAG_SPRAY_CODES": "50126,50053",
		"SIGNINDIAG_MFA_FATIGUE_WINDOW": "3m", "SIGNINDIAG_MFA_FATIGUE_THRESHOLD": "6",
		"SIGNINDIAG_FLUSH_INTERVAL": "250ms", "SIGNINDIAG_BATCH_SIZE": "77", "SIGNINDIAG_BATCH_BYTES": "2097152",
		"SIGNINDIAG_SHUTDOWN_TIMEOUT": "9s", "SIGNINDIAG_MAX_EVENT_AGE": "24h", "SIGNINDIAG_MAX_CLOCK_SKEW": "1m",
	}), true)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Spray.Window != 7*time.Minute || cfg.Spray.Threshold != 4 || len(cfg.Spray.Codes) != 2 || cfg.Spray.Codes[0] != 50126 {
		t.Errorf("spray: %+v", cfg.Spray)
	}
	if cfg.MFAFatigue.Window != 3*time.Minute || cfg.MFAFatigue.Threshold != 6 {
		t.Errorf("fatigue: %+v", cfg.MFAFatigue)
	}
	if cfg.Loop.FlushInterval != 250*time.Millisecond || cfg.Loop.FlushMaxRecords != 77 || cfg.Loop.FlushMaxBytes != 2<<20 ||
		cfg.Loop.ShutdownTimeout != 9*time.Second {
		t.Errorf("loop: %+v", cfg.Loop)
	}
	if cfg.EventTime.MaxEventAge != 24*time.Hour || cfg.EventTime.MaxClockSkew != time.Minute {
		t.Errorf("event time: %+v", cfg.EventTime)
	}
	defaults, err := loadConfig(context.Background(), envconfig.MapLookuper(map[string]string{"SIGNINDIAG_KAFKA_BROKERS": "k:9092"}), true)
	if err != nil {
		t.Fatal(err)
	}
	if d := defaults.Spray; d.Window != 20*time.Minute || d.Threshold != 5 || len(d.Codes) != 3 ||
		defaults.MFAFatigue.Window != 10*time.Minute || defaults.MFAFatigue.Threshold != 10 ||
		defaults.Loop.FlushInterval != 500*time.Millisecond || defaults.Loop.FlushMaxRecords != 5000 ||
		defaults.Loop.FlushMaxBytes != 8388608 || defaults.Loop.ShutdownTimeout != 20*time.Second {
		t.Errorf("defaults: %+v %+v %+v", defaults.Spray, defaults.MFAFatigue, defaults.Loop)
	}
	for env, want := range map[string]string{
		"SIGNINDIAG_SPRAY_THRESHOLD":       "SIGNINDIAG_SPRAY_THRESHOLD: expected a whole number of at least 2",
		"SIGNINDIAG_MFA_FATIGUE_THRESHOLD": "SIGNINDIAG_MFA_FATIGUE_THRESHOLD: expected a whole number of at least 2",
		"SIGNINDIAG_BATCH_SIZE":            "SIGNINDIAG_BATCH_SIZE: expected at least 1",
		"SIGNINDIAG_MAX_EVENT_AGE":         "SIGNINDIAG_MAX_EVENT_AGE: expected a duration of 0",
	} {
		value := "1"
		switch env {
		case "SIGNINDIAG_BATCH_SIZE":
			value = "0"
		case "SIGNINDIAG_MAX_EVENT_AGE":
			value = "-1h"
		}
		_, err := loadConfig(context.Background(), envconfig.MapLookuper(map[string]string{"SIGNINDIAG_KAFKA_BROKERS": "k:9092", env: value}), true)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s=%s: err = %v, want %q", env, value, err, want)
		}
	}
	for env, want := range map[string]string{
		"SIGNINDIAG_SPRAY_WINDOW": "SIGNINDIAG_SPRAY_WINDOW: expected a Go duration",
		"SIGNINDIAG_BATCH_SIZE":   "SIGNINDIAG_BATCH_SIZE: expected a whole number",
	} {
		_, err := loadConfig(context.Background(), envconfig.MapLookuper(map[string]string{env: "lots"}), false)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s=lots: err = %v, want %q", env, err, want)
		}
	}
}

func TestConfigKafkaSecurity(t *testing.T) {
	base := map[string]string{"SIGNINDIAG_KAFKA_BROKERS": "ns.servicebus.windows.net:9093"}
	with := func(kv ...string) map[string]string {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			env[kv[i]] = kv[i+1]
		}
		return env
	}
	cfg, err := loadConfig(context.Background(), envconfig.MapLookuper(with("SIGNINDIAG_KAFKA_SECURITY_PROTOCOL", "SASL_SSL",
		"SIGNINDIAG_KAFKA_SASL_USERNAME", "$ConnectionString", "SIGNINDIAG_KAFKA_SASL_PASSWORD", "Endpoint=sb://ns/;SharedAccessKey=k",
		"SIGNINDIAG_INTERNAL_KAFKA_BROKERS", "kafka:9092")), true)
	if err != nil {
		t.Fatal(err)
	}
	input, internal, err := cfg.clusters()
	if err != nil || input.SASL == nil || input.SASL.Name() != "PLAIN" || input.TLS == nil || !cfg.InternalKafka.Separate() ||
		internal.Secured() || len(internal.Brokers) != 1 || !cfg.InternalKafka.CreateTopics {
		t.Errorf("Event Hubs with an internal cluster: %+v %+v %v", input, internal, err)
	}
	cases := []struct {
		env  map[string]string
		want string
	}{
		{with("SIGNINDIAG_KAFKA_SECURITY_PROTOCOL", "SASL_SSL"), "SIGNINDIAG_KAFKA_SASL_USERNAME: expected a user name"},
		{with("SIGNINDIAG_KAFKA_SECURITY_PROTOCOL", "TLS"), "SIGNINDIAG_KAFKA_SECURITY_PROTOCOL: expected PLAINTEXT"},
		{with("SIGNINDIAG_INTERNAL_KAFKA_BROKERS", "nohost"), `SIGNINDIAG_INTERNAL_KAFKA_BROKERS: expected host:port, got "nohost"`},
		{with("SIGNINDIAG_INTERNAL_KAFKA_BROKERS", "k:9092", "SIGNINDIAG_INTERNAL_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT",
			"SIGNINDIAG_INTERNAL_KAFKA_SASL_USERNAME", "u"), "SIGNINDIAG_INTERNAL_KAFKA_SASL_PASSWORD: expected a password"},
		{with("SIGNINDIAG_CLICKHOUSE_PASSWORD", "a", "SIGNINDIAG_CLICKHOUSE_PASSWORD_FILE", "/f"), "SIGNINDIAG_CLICKHOUSE_PASSWORD_FILE: set either"},
		{with("SIGNINDIAG_CLICKHOUSE_TLS_CA_FILE", "/ca.pem"), "SIGNINDIAG_CLICKHOUSE_TLS: the TLS_* settings need"},
	}
	for _, c := range cases {
		_, err := loadConfig(context.Background(), envconfig.MapLookuper(c.env), true)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want %q", c.env, err, c.want)
		}
	}
}

func TestStoreIsEmbeddedUnlessClickHouseIsConfigured(t *testing.T) {
	for _, c := range []struct {
		env        map[string]string
		store, err string
	}{
		{env: map[string]string{}, store: storeSQLite},
		{env: map[string]string{"SIGNINDIAG_CLICKHOUSE_ADDR": "ch:9000"}, store: storeClickHouse},
		{env: map[string]string{"SIGNINDIAG_CLICKHOUSE_PASSWORD_FILE": "/run/secrets/ch"}, store: storeClickHouse},
		{env: map[string]string{"SIGNINDIAG_CLICKHOUSE_ADDR": "ch:9000", "SIGNINDIAG_STORE": "sqlite"}, store: storeSQLite},
		{env: map[string]string{"SIGNINDIAG_STORE": "clickhouse"}, store: storeClickHouse},
		{env: map[string]string{"SIGNINDIAG_STORE": "postgres"}, err: "SIGNINDIAG_STORE: expected auto, clickhouse or sqlite"},
	} {
		cfg, err := loadConfig(context.Background(), envconfig.MapLookuper(c.env), false)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%v: err = %v, want %q", c.env, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", c.env, err)
			continue
		}
		if cfg.Store != c.store {
			t.Errorf("%v: store %q, want %q", c.env, cfg.Store, c.store)
		}
	}
	cfg, err := loadConfig(context.Background(), envconfig.MapLookuper(map[string]string{"SIGNINDIAG_DATA_DIR": "/var/lib/sd"}), false)
	if err != nil || cfg.SQLite.Path != "/var/lib/sd/signindiag.db" {
		t.Errorf("the SQLite file: %q (%v), want it in SIGNINDIAG_DATA_DIR", cfg.SQLite.Path, err)
	}
}
