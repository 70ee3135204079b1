package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/signindiag/signindiag/graphpull"
	"github.com/signindiag/signindiag/pipeline"
	"github.com/signindiag/signindiag/pipeline/kafkaconn"
	"github.com/signindiag/signindiag/pipeline/rekey"
	"github.com/signindiag/signindiag/rules"
	"github.com/signindiag/signindiag/sinks/clickhouse"
	"github.com/signindiag/signindiag/sinks/sqlite"
)

// envPrefix starts every variable signindiag reads.
const envPrefix = "SIGNINDIAG_"

// Config is the whole configuration, read from SIGNINDIAG_* variables.
type Config struct {
	Kafka KafkaConfig `env:", prefix=KAFKA_"`
	// InternalKafka is the cluster of the internal topics (keyed, by-IP,
	// dead letters) when they cannot live beside the input topics (an
	// Azure Event Hubs namespace has fixed partitions and retention).
	InternalKafka InternalKafkaConfig `env:", prefix=INTERNAL_KAFKA_"`
	ClickHouse    clickhouse.Config   `env:", prefix=CLICKHOUSE_"`
	// Store is the storage backend: clickhouse, sqlite (an embedded file
	// in DataDir, nothing to install), or auto: clickhouse when a
	// SIGNINDIAG_CLICKHOUSE_* variable is set, else sqlite (store.go).
	Store string `env:"STORE, default=auto"`
	// DataDir holds what the embedded paths keep: the SQLite store (unless
	// SQLITE_PATH names another file), the in-process pipeline's offsets
	// and its dead-letter file.
	DataDir string        `env:"DATA_DIR, default=signindiag-data"`
	SQLite  sqlite.Config `env:", prefix=SQLITE_"`
	// Graph configures `graph-pull`.
	Graph graphpull.Config `env:", prefix=GRAPH_"`

	// HTTPAddr serves the API, /metrics, /healthz and /readyz.
	HTTPAddr string `env:"HTTP_ADDR, default=127.0.0.1:8080"`
	// Window is the failure-count window.
	Window time.Duration `env:"WINDOW, default=48h"`
	// AllowedLateness: failures older than the newest event minus window
	// minus this are stored but left out of live windows. Default: Window.
	AllowedLateness time.Duration `env:"ALLOWED_LATENESS"`
	// EventTime (MAX_EVENT_AGE, MAX_CLOCK_SKEW) bounds the sign-ins'
	// createdDateTime to [now − MaxEventAge, now + MaxClockSkew]; the rekey
	// stage dead-letters the others (time_out_of_range). 0 turns a bound
	// off. MaxClockSkew also bounds the incidents' watermark.
	EventTime rekey.TimeBounds
	// Retention is how long stored data is kept; an ingesting process
	// drops older time partitions every hour. It is never shorter than
	// MaxEventAge (what is accepted is kept at least that long), which is
	// also its default; with both 0, everything is kept.
	Retention time.Duration `env:"RETENTION"`
	// MaxWindowKeys bounds the keys (users, IPs) one process's failure
	// windows and incident trackers hold (about 100 bytes each, plus 16
	// per failure): failed sign-ins bring any user name an attacker sends.
	// Past it, new keys' failures are stored but not counted live, their
	// findings say so, and their incidents are not raised. 0: no bound.
	MaxWindowKeys int `env:"MAX_WINDOW_KEYS, default=2000000"`
	// FailureThreshold raises excessive_failures_48h.
	FailureThreshold int `env:"FAILURE_THRESHOLD, default=10"`
	// Spray (SPRAY_WINDOW, SPRAY_THRESHOLD, SPRAY_CODES) tunes
	// password_spray (defaults: Sentinel's SigninPasswordSpray, M1 in
	// docs/detection-rules.md#password-spray).
	Spray rules.SprayConfig `env:", prefix=SPRAY_"`
	// MFAFatigue (MFA_FATIGUE_WINDOW, MFA_FATIGUE_THRESHOLD) tunes
	// mfa_fatigue (defaults: Splunk's multiple denied MFA requests, S8 in
	// docs/detection-rules.md#mfa-fatigue).
	MFAFatigue rules.FatigueConfig `env:", prefix=MFA_FATIGUE_"`
	// RulesFile extends or overrides the embedded error-code catalogue.
	RulesFile string `env:"RULES_FILE"`
	// Loop (FLUSH_INTERVAL, BATCH_SIZE, BATCH_BYTES, SHUTDOWN_TIMEOUT)
	// bounds how long, how many records and how many bytes a worker holds
	// before making them durable and committing.
	Loop     pipeline.LoopConfig
	LogLevel string `env:"LOG_LEVEL, default=info"`
	// Pprof serves Go's profiler at /debug/pprof/ (for benchmarks and
	// investigations; off by default, as it exposes internals).
	Pprof bool `env:"PPROF, default=false"`
	// ReadyFlushFailing: a stage whose flushes fail (or whose consumer
	// group goes without an assignment) for longer makes /readyz 503.
	ReadyFlushFailing time.Duration `env:"READY_FLUSH_FAILING, default=30s"`

	// Spikes: failure spikes (config_spikes.go).
	Spikes SpikesConfig `env:", prefix=SPIKES_"`
	// API and HTTP: access control and bounds of the query API
	// (api_config.go).
	API  APIConfig  `env:", prefix=API_"`
	HTTP HTTPConfig `env:", prefix=HTTP_"`
}

// KafkaConfig names the broker, topics and group.
type KafkaConfig struct {
	Brokers     []string `env:"BROKERS"`
	SignInTopic string   `env:"SIGNIN_TOPIC, default=signin-events"`
	FlagTopic   string   `env:"FLAG_TOPIC, default=signin-flags"`
	DLQTopic    string   `env:"DLQ_TOPIC, default=signin-deadletter"`
	// StorageDLQTopic receives the records storage rejects; by default
	// <Group>-storage-deadletter.
	StorageDLQTopic string `env:"STORAGE_DLQ_TOPIC"`
	// KeyedTopic and IPTopic are internal; by default their names derive
	// from Group (as Kafka Streams derives them from its application id),
	// so two deployments sharing a cluster never read each other's events.
	KeyedTopic string `env:"KEYED_TOPIC"`
	IPTopic    string `env:"IP_TOPIC"`
	Group      string `env:"GROUP, default=signindiag"`
	Partitions int    `env:"PARTITIONS, default=6"`
	// SessionTimeout: how long the group waits for a silent member (a
	// crashed process) before giving its partitions to another.
	SessionTimeout time.Duration `env:"SESSION_TIMEOUT, default=30s"`
	CreateTopics   bool          `env:"CREATE_TOPICS, default=true"`
	// MaxMessageBytes: larger messages are dead-lettered undecoded.
	MaxMessageBytes int `env:"MAX_MESSAGE_BYTES, default=4194304"`
	// Compression of the batches signindiag produces (internal topics and
	// dead letters); the broker stores them as sent.
	Compression string `env:"COMPRESSION, default=lz4"`
	// ReplicationFactor of the topics signindiag creates; 0 means
	// min(3, brokers in the cluster). min.insync.replicas = min(2, it).
	ReplicationFactor int `env:"REPLICATION_FACTOR, default=0"`
	// Security: TLS and SASL (SECURITY_PROTOCOL, SASL_*, TLS_*).
	Security kafkaconn.Settings
}

// clusterFromEnv reads SIGNINDIAG_KAFKA_'s security settings alone, for
// the commands that only write to the input cluster (loadgen).
func clusterFromEnv(lookuper envconfig.Lookuper, brokers []string) (kafkaconn.Cluster, error) {
	var s struct{ Security kafkaconn.Settings }
	prefix := envPrefix + "KAFKA_"
	if err := envconfig.ProcessWith(context.Background(), &envconfig.Config{Target: &s,
		Lookuper: envconfig.PrefixLookuper(prefix, lookuper)}); err != nil {
		return kafkaconn.Cluster{}, fmt.Errorf("configuration: %w", err)
	}
	return kafkaconn.New(brokers, s.Security, prefix)
}

// InternalKafkaConfig: a separate cluster for the internal topics. Without
// Brokers the internal topics live on the input cluster, with its
// security settings.
type InternalKafkaConfig struct {
	Brokers []string `env:"BROKERS"`
	// CreateTopics creates the missing internal topics there.
	CreateTopics bool `env:"CREATE_TOPICS, default=true"`
	// Security of the internal cluster, set on its own (default PLAINTEXT).
	Security kafkaconn.Settings
}

// Separate reports whether the internal topics have a cluster of their own.
func (c InternalKafkaConfig) Separate() bool { return len(c.Brokers) > 0 }

// clusters builds the input and internal clusters (reading the password,
// CA and certificate files); internal has no brokers when it is the input
// cluster.
func (c *Config) clusters() (input, internal kafkaconn.Cluster, err error) {
	input, err = kafkaconn.New(c.Kafka.Brokers, c.Kafka.Security, envPrefix+"KAFKA_")
	if err != nil || !c.InternalKafka.Separate() {
		return input, kafkaconn.Cluster{}, err
	}
	internal, err = kafkaconn.New(c.InternalKafka.Brokers, c.InternalKafka.Security, envPrefix+"INTERNAL_KAFKA_")
	return input, internal, err
}

// loadConfig reads the environment through lookuper. A value that does not
// parse is reported as one line naming the variable and what it expects.
func loadConfig(ctx context.Context, lookuper envconfig.Lookuper, needKafka bool) (*Config, error) {
	var cfg Config
	err := envconfig.ProcessWith(ctx, &envconfig.Config{
		Target:   &cfg,
		Lookuper: envconfig.PrefixLookuper(envPrefix, lookuper),
	})
	if err != nil {
		return nil, explainEnvError(err)
	}
	if cfg.Kafka.KeyedTopic == "" {
		cfg.Kafka.KeyedTopic = cfg.Kafka.Group + "-keyed-events"
	}
	if cfg.Kafka.IPTopic == "" {
		cfg.Kafka.IPTopic = cfg.Kafka.Group + "-keyed-by-ip"
	}
	if cfg.Kafka.StorageDLQTopic == "" {
		cfg.Kafka.StorageDLQTopic = cfg.Kafka.Group + "-storage-deadletter"
	}
	if cfg.AllowedLateness == 0 {
		cfg.AllowedLateness = cfg.Window
	}
	if cfg.SQLite.Path == "" {
		cfg.SQLite.Path = filepath.Join(cfg.DataDir, "signindiag.db")
	}
	if cfg.Store == storeAuto {
		cfg.Store = storeSQLite
		if clickHouseConfigured(lookuper) {
			cfg.Store = storeClickHouse
		}
	}
	if err := cfg.validate(needKafka); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// clickHouseConfigured reports whether any SIGNINDIAG_CLICKHOUSE_ variable
// is set: whoever sets one (an address, a password, TLS) means ClickHouse,
// and should hear of a mistake in it rather than get the embedded store.
func clickHouseConfigured(lookuper envconfig.Lookuper) bool {
	t := reflect.TypeOf(clickhouse.Config{})
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("env"), ",")
		if name == "" {
			continue
		}
		if _, ok := lookuper.Lookup(envPrefix + "CLICKHOUSE_" + strings.TrimSpace(name)); ok {
			return true
		}
	}
	return false
}

// explainEnvError turns go-envconfig's parse errors, which name Go fields
// ("Kafka: Partitions: strconv.ParseInt: …"), into the variable's full
// name and what it takes.
func explainEnvError(err error) error {
	parts := strings.Split(err.Error(), ": ")
	t := reflect.TypeOf(Config{})
	name := envPrefix
	i := 0
	for ; i < len(parts) && t.Kind() == reflect.Struct; i++ {
		f, ok := t.FieldByName(parts[i])
		if !ok {
			break
		}
		key, opts, _ := strings.Cut(f.Tag.Get("env"), ",")
		if p, ok := strings.CutPrefix(strings.TrimSpace(opts), "prefix="); ok {
			name += p
		}
		name += strings.TrimSpace(key)
		t = f.Type
	}
	if i == 0 {
		return fmt.Errorf("configuration: %w", err)
	}
	detail := strings.Join(parts[i:], ": ")
	expect := "a valid value"
	switch {
	case strings.Contains(detail, "ParseInt"), strings.Contains(detail, "ParseUint"):
		expect = "a whole number"
	case strings.Contains(detail, "ParseBool"):
		expect = "true or false"
	case strings.Contains(detail, "duration"):
		expect = "a Go duration such as 48h, 90m or 500ms"
	}
	return fmt.Errorf("%s: expected %s (%s)", name, expect, detail)
}

// prefixed puts prefix before the variable each error of a package's
// Validate names (the packages name their variables below the binary's
// prefix and the one they are nested under).
func prefixed(prefix string, err error) []error {
	if err == nil {
		return nil
	}
	list := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	}
	out := make([]error, 0, len(list))
	for _, e := range list {
		out = append(out, fmt.Errorf("%s%w", prefix, e))
	}
	return out
}

func (c *Config) validate(needKafka bool) error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s%s: %s", envPrefix, name, fmt.Sprintf(format, args...)))
	}
	if needKafka {
		if len(c.Kafka.Brokers) == 0 {
			bad("KAFKA_BROKERS", "expected a comma-separated list of host:port, got nothing")
		}
		for _, b := range c.Kafka.Brokers {
			if !strings.Contains(b, ":") {
				bad("KAFKA_BROKERS", "expected host:port, got %q", b)
			}
		}
		for _, b := range c.InternalKafka.Brokers {
			if !strings.Contains(b, ":") {
				bad("INTERNAL_KAFKA_BROKERS", "expected host:port, got %q", b)
			}
		}
		if err := c.Kafka.Security.Validate(envPrefix + "KAFKA_"); err != nil {
			errs = append(errs, err)
		}
		if c.InternalKafka.Separate() {
			if err := c.InternalKafka.Security.Validate(envPrefix + "INTERNAL_KAFKA_"); err != nil {
				errs = append(errs, err)
			}
		}
		topics := map[string]string{"KAFKA_SIGNIN_TOPIC": c.Kafka.SignInTopic, "KAFKA_FLAG_TOPIC": c.Kafka.FlagTopic,
			"KAFKA_DLQ_TOPIC": c.Kafka.DLQTopic, "KAFKA_KEYED_TOPIC": c.Kafka.KeyedTopic, "KAFKA_IP_TOPIC": c.Kafka.IPTopic,
			"KAFKA_GROUP": c.Kafka.Group, "KAFKA_STORAGE_DLQ_TOPIC": c.Kafka.StorageDLQTopic}
		for name, v := range topics {
			if v == "" {
				bad(name, "expected a name, got an empty value")
			}
		}
		if c.Kafka.Partitions < 1 {
			bad("KAFKA_PARTITIONS", "expected at least 1, got %d", c.Kafka.Partitions)
		}
		if c.Kafka.SessionTimeout < 6*time.Second || c.Kafka.SessionTimeout > 30*time.Minute {
			bad("KAFKA_SESSION_TIMEOUT", "expected a duration between 6s and 30m (the broker's default bounds), got %s", c.Kafka.SessionTimeout)
		}
		if c.Kafka.ReplicationFactor < 0 {
			bad("KAFKA_REPLICATION_FACTOR", "expected 0 (min(3, brokers in the cluster)) or more, got %d", c.Kafka.ReplicationFactor)
		}
		if c.Kafka.MaxMessageBytes < 1024 {
			bad("KAFKA_MAX_MESSAGE_BYTES", "expected at least 1024, got %d", c.Kafka.MaxMessageBytes)
		}
		if _, ok := pipeline.Compressions[c.Kafka.Compression]; !ok {
			bad("KAFKA_COMPRESSION", "expected lz4, zstd, snappy, gzip or none, got %q", c.Kafka.Compression)
		}
	}
	if c.ReadyFlushFailing <= 0 {
		bad("READY_FLUSH_FAILING", "expected a positive duration, got %s", c.ReadyFlushFailing)
	}
	errs = append(errs, prefixed(envPrefix, c.Loop.Validate())...)
	if c.Window <= 0 {
		bad("WINDOW", "expected a positive duration such as 48h, got %s", c.Window)
	}
	errs = append(errs, prefixed(envPrefix, c.EventTime.Validate())...)
	if c.MaxWindowKeys < 0 {
		bad("MAX_WINDOW_KEYS", "expected 0 (no bound) or more, got %d", c.MaxWindowKeys)
	}
	if c.Retention < 0 {
		bad("RETENTION", "expected a duration of 0 (no bound) or more, got %s", c.Retention)
	}
	if c.AllowedLateness < 0 {
		bad("ALLOWED_LATENESS", "expected a duration of 0 or more, got %s", c.AllowedLateness)
	}
	errs = append(errs, prefixed(envPrefix+"SPRAY_", c.Spray.Validate())...)
	errs = append(errs, prefixed(envPrefix+"MFA_FATIGUE_", c.MFAFatigue.Validate())...)
	if c.FailureThreshold < 1 {
		bad("FAILURE_THRESHOLD", "expected a whole number of at least 1, got %d", c.FailureThreshold)
	}
	if c.HTTPAddr == "" || !strings.Contains(c.HTTPAddr, ":") {
		bad("HTTP_ADDR", "expected [host]:port such as :8080, got %q", c.HTTPAddr)
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		bad("LOG_LEVEL", "expected debug, info, warn or error, got %q", c.LogLevel)
	}
	switch c.Store {
	case storeClickHouse:
		if err := c.ClickHouse.Validate(); err != nil {
			errs = append(errs, err)
		}
	case storeSQLite:
		if c.DataDir == "" {
			bad("DATA_DIR", "expected a directory for the embedded store, got an empty value")
		}
	default:
		bad("STORE", "expected auto, clickhouse or sqlite, got %q", c.Store)
	}
	errs = append(errs, c.Spikes.validate()...) // config_spikes.go
	errs = append(errs, c.validateAPI()...)
	return errors.Join(errs...)
}

// EffectiveRetention is how long stored data is kept: RETENTION, raised to
// MAX_EVENT_AGE; 0 keeps everything.
func (c *Config) EffectiveRetention() time.Duration { return max(c.Retention, c.EventTime.MaxEventAge) }
