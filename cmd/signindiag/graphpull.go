package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/sethvargo/go-envconfig"

	"github.com/signindiag/signindiag/graphpull"
	"github.com/signindiag/signindiag/pipeline/source"
)

const graphPullHelp = `Usage: signindiag graph-pull [--once]

Poll Microsoft Graph's sign-in log (GET /v1.0/auditLogs/signIns, and the beta
endpoint for the event types in SIGNINDIAG_GRAPH_EVENT_TYPES) with an app's
client credentials, and publish every sign-in to SIGNINDIAG_KAFKA_SIGNIN_TOPIC,
where 'ingest' or 'run' diagnoses it. Each poll reaches back
SIGNINDIAG_GRAPH_OVERLAP before the previous one, for records Graph delivers
late; the cursor is kept in SIGNINDIAG_GRAPH_CURSOR_FILE.

Flags:
  --once   poll once and exit (for a scheduler), instead of every SIGNINDIAG_GRAPH_INTERVAL

Configuration comes from SIGNINDIAG_* environment variables; see README.md and docs/connecting.md.
`

// runGraphPull is `signindiag graph-pull`.
func runGraphPull(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("graph-pull", flag.ContinueOnError)
	fs.SetOutput(stderr)
	once := fs.Bool("once", false, "poll once and exit")
	fs.Usage = func() { fmt.Fprint(stdout, graphPullHelp) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	cfg, err := loadConfig(context.Background(), envconfig.OsLookuper(), true)
	if err == nil {
		err = cfg.Graph.Validate()
	}
	if err != nil {
		fmt.Fprintf(stderr, "signindiag: configuration: %v\n", err)
		return 2
	}
	log := newLogger(stderr, cfg.LogLevel)
	ctx, stop := notifyShutdown(context.Background(), log, os.Exit)
	defer stop()
	if err := graphPull(ctx, cfg, *once, log); err != nil {
		log.Error("graph-pull stopped", "err", err)
		return 1
	}
	return 0
}

func graphPull(ctx context.Context, cfg *Config, once bool, log *slog.Logger) error {
	input, _, err := cfg.clusters()
	if err != nil {
		return err
	}
	if err := input.Check(ctx); err != nil {
		return err
	}
	topic := cfg.Kafka.SignInTopic
	if cfg.Kafka.CreateTopics {
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		rf, err := source.ReplicationFactor(tctx, input.Client(0), cfg.Kafka.ReplicationFactor)
		if err != nil {
			return err
		}
		if err := source.EnsureTopics(tctx, input.Client(0), []source.TopicSpec{{Name: topic, Partitions: cfg.Kafka.Partitions, ReplicationFactor: rf}}); err != nil {
			return err
		}
	} else {
		missing, err := source.MissingTopics(ctx, input.Client(0), []string{topic})
		if err != nil {
			return err
		}
		if len(missing) > 0 {
			return fmt.Errorf("topic %s does not exist on %v and topic creation is off (create it first; on Azure Event Hubs, an event hub)", topic, input.Brokers)
		}
	}
	w := &kafka.Writer{Addr: kafka.TCP(input.Brokers...), Transport: input.Transport(), Balancer: &kafka.Hash{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: 10 * time.Millisecond, MaxAttempts: 5}
	defer w.Close()
	httpClient, err := graphpull.HTTPClient(cfg.Graph)
	if err != nil {
		return err
	}
	p, err := graphpull.New(cfg.Graph, httpClient, topic, w, log)
	if err != nil {
		return err
	}
	log.Info("graph-pull: polling", "graph", cfg.Graph.GraphURL, "tenant", cfg.Graph.TenantID, "client", cfg.Graph.ClientID,
		"event_types", cfg.Graph.EventTypes, "topic", topic, "once", once)
	if once {
		_, err := p.PollOnce(ctx)
		return err
	}
	return p.Run(ctx)
}
