package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signindiag/signindiag/graphpull/graphtest"
	"github.com/signindiag/signindiag/pipeline/source/kafkatest"
	"github.com/signindiag/signindiag/sinks/clickhouse/clickhousetest"
)

// Distinctive secrets: none may appear in any output of the binary.
const (
	kafkaSecret    = "KAFKA-SECRET-c0ffee-1a2b"
	internalSecret = "INTERNAL-SECRET-beef-3c4d"
	chSecret       = "CH-SECRET-f00d-5e6f"
	graphSecret    = "GRAPH-SECRET-cafe-7a8b"
)

func assertNoSecret(t *testing.T, what, out string) {
	t.Helper()
	for _, s := range []string{kafkaSecret, internalSecret, chSecret, graphSecret} {
		if strings.Contains(out, s) {
			t.Errorf("%s shows a secret (%s):\n%s", what, s[:6], out)
		}
	}
}

// TestSecretsStayHidden sets distinctive secrets and runs the paths that
// print configuration or errors: every --help, a configuration error, a
// failed ClickHouse login, a failed Kafka login and a failed Graph token
// request, and a running process's /metrics, /healthz and /readyz.
func TestSecretsStayHidden(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	sb := kafkatest.Secured(t)
	chCfg := clickhousetest.Config(t)
	prefix := kafkatest.UniqueName("secrets")
	t.Cleanup(func() { kafkatest.DeleteTopics(brokers, topicNames(prefix)...) })
	secrets := map[string]string{
		"SIGNINDIAG_KAFKA_SASL_PASSWORD":          kafkaSecret,
		"SIGNINDIAG_INTERNAL_KAFKA_SASL_PASSWORD": internalSecret,
		"SIGNINDIAG_GRAPH_CLIENT_SECRET":          graphSecret,
	}
	withSecrets := func(env map[string]string) map[string]string {
		for k, v := range secrets {
			if _, ok := env[k]; !ok {
				env[k] = v
			}
		}
		return env
	}

	for _, args := range [][]string{{"--help"}, {"run", "--help"}, {"ingest", "--help"}, {"serve", "--help"},
		{"migrate", "--help"}, {"graph-pull", "--help"}, {"loadgen", "--help"}} {
		_, out := runToExit(t, 30*time.Second, withSecrets(map[string]string{"SIGNINDIAG_CLICKHOUSE_PASSWORD": chSecret}), args...)
		assertNoSecret(t, strings.Join(args, " "), out)
	}

	_, out := runToExit(t, 30*time.Second, withSecrets(map[string]string{"SIGNINDIAG_CLICKHOUSE_PASSWORD": chSecret,
		"SIGNINDIAG_WINDOW": "-1h", "SIGNINDIAG_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "SIGNINDIAG_KAFKA_SASL_MECHANISM": "MD5"}), "ingest")
	if !strings.Contains(out, "SIGNINDIAG_WINDOW") || !strings.Contains(out, "SIGNINDIAG_KAFKA_SASL_MECHANISM") {
		t.Errorf("configuration errors not reported:\n%s", out)
	}
	assertNoSecret(t, "a configuration error", out)

	// ClickHouse refuses the password: one line, at once (no retrying).
	env := withSecrets(processEnv(brokers, chCfg, prefix, map[string]string{"SIGNINDIAG_CLICKHOUSE_PASSWORD": chSecret}))
	code, out := runToExit(t, 25*time.Second, env, "ingest")
	if errs := errorLines(out); code != 1 || len(errs) != 1 || !strings.Contains(errs[0], "clickhouse") {
		t.Errorf("wrong ClickHouse password: exit %d, errors %q\n%s", code, errs, out)
	}
	assertNoSecret(t, "a failed ClickHouse login", out)

	// Kafka refuses the password.
	env = withSecrets(processEnv(sb.Brokers, chCfg, prefix, map[string]string{"SIGNINDIAG_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
		"SIGNINDIAG_KAFKA_SASL_USERNAME": sb.PlainUser, "SIGNINDIAG_KAFKA_TLS_CA_FILE": sb.CAFile}))
	code, out = runToExit(t, 60*time.Second, env, "ingest")
	if errs := errorLines(out); code != 1 || len(errs) != 1 || !strings.Contains(errs[0], "authentication failed") {
		t.Errorf("wrong Kafka password: exit %d, errors %q\n%s", code, errs, out)
	}
	assertNoSecret(t, "a failed Kafka login", out)

	// A running process: its endpoints. The secrets are set but unused
	// (plaintext Kafka; the internal cluster is the input one).
	proc := startProcess(t, "run", withSecrets(processEnv(brokers, chCfg, prefix, nil)))
	proc.waitReady(t)
	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		resp, err := http.Get(proc.url(path))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assertNoSecret(t, path, string(body))
	}
	proc.stop()
	logs, _ := os.ReadFile(proc.log)
	assertNoSecret(t, "the log of a run", string(logs))

	// Graph's token endpoint refuses the client secret.
	f := graphtest.New(t, graphTenant, graphClient, "the-registered-secret")
	env = withSecrets(graphEnv(f, f.CAFile(t), filepath.Join(t.TempDir(), "cursor.json"), graphSecret, brokers, prefix+"-signins"))
	env["SIGNINDIAG_CLICKHOUSE_PASSWORD"] = chSecret
	code, out = runToExit(t, 60*time.Second, env, "graph-pull", "--once")
	if errs := errorLines(out); code != 1 || len(errs) != 1 || !strings.Contains(errs[0], "invalid_client") {
		t.Errorf("wrong Graph secret: exit %d, errors %q\n%s", code, errs, out)
	}
	assertNoSecret(t, "a failed Graph token request", out)
}
