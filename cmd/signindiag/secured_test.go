package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signindiag/signindiag/pipeline/kafkaconn"
	"github.com/signindiag/signindiag/pipeline/source"
	"github.com/signindiag/signindiag/pipeline/source/kafkatest"
	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/schemas/entra"
	"github.com/signindiag/signindiag/sinks/clickhouse/clickhousetest"
)

// produceSecured writes values through cluster (TLS and SASL), as a
// tenant's diagnostic setting writes to Event Hubs.
func produceSecured(t *testing.T, cluster kafkaconn.Cluster, topic string, values ...[]byte) {
	t.Helper()
	kafkatest.ProduceVia(t, cluster.Brokers, cluster.Transport(), topic, values...)
}

// TestSecuredKafkaEndToEnd runs the whole pipeline over the local broker's
// SASL_SSL listener. PLAIN is set up as for Azure Event Hubs: the input
// topics exist beforehand, topic creation is off, the password comes from
// a file, and the internal topics live on another (plaintext) cluster.
// SCRAM-SHA-512 keeps every topic on the secured listener and creates them.
func TestSecuredKafkaEndToEnd(t *testing.T) {
	sb := kafkatest.Secured(t)
	plainBrokers := kafkatest.Brokers(t)
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			chCfg := clickhousetest.Config(t)
			prefix := kafkatest.UniqueName("sasl")
			settings := kafkaconn.Settings{SecurityProtocol: "SASL_SSL", SASLMechanism: mech, TLSCAFile: sb.CAFile}
			extra := map[string]string{"SIGNINDIAG_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "SIGNINDIAG_KAFKA_SASL_MECHANISM": mech,
				"SIGNINDIAG_KAFKA_TLS_CA_FILE": sb.CAFile}
			if mech == "PLAIN" {
				settings.SASLUsername, settings.SASLPassword = sb.PlainUser, sb.PlainPassword
				pwFile := filepath.Join(t.TempDir(), "kafka-password")
				writeFile(t, pwFile, sb.PlainPassword+"\n")
				extra["SIGNINDIAG_KAFKA_SASL_USERNAME"] = sb.PlainUser
				extra["SIGNINDIAG_KAFKA_SASL_PASSWORD_FILE"] = pwFile
				extra["SIGNINDIAG_KAFKA_CREATE_TOPICS"] = "false"
				extra["SIGNINDIAG_INTERNAL_KAFKA_BROKERS"] = strings.Join(plainBrokers, ",")
			} else {
				settings.SASLUsername, settings.SASLPassword = sb.ScramUser, sb.ScramPassword
				extra["SIGNINDIAG_KAFKA_SASL_USERNAME"] = sb.ScramUser
				extra["SIGNINDIAG_KAFKA_SASL_PASSWORD"] = sb.ScramPassword
			}
			cluster, err := kafkaconn.New(sb.Brokers, settings, "test ")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(cluster.CloseIdleConnections) // its transport's pooled connections (goleak)
			t.Cleanup(func() { kafkatest.DeleteTopics(plainBrokers, topicNames(prefix)...) })
			if mech == "PLAIN" {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if err := source.EnsureTopics(ctx, cluster.Client(0), []source.TopicSpec{{Name: prefix + "-signins", Partitions: 2},
					{Name: prefix + "-flags", Partitions: 2}}); err != nil {
					t.Fatal(err)
				}
			}

			proc := startProcess(t, "run", processEnv(sb.Brokers, chCfg, prefix, extra))
			proc.waitReady(t)
			at := e2eStart
			var bob []schemas.SignIn
			for i := range 11 {
				bob = append(bob, mkSignIn(fmt.Sprintf("bob-%02d", i), "bob", at.Add(time.Duration(i)*time.Minute), 50126))
			}
			produceSecured(t, cluster, prefix+"-signins", envelope(t, schemas.CategoryInteractive, bob...),
				graphJSON(t, mkSignIn("alice-0", "alice", at, 0)))
			conn := rawConn(t, chCfg)
			eventually(t, 60*time.Second, "12 sign-ins stored", func() bool {
				return countDistinct(t, conn, chCfg.Database, "signins") == 12
			})
			var fc struct{ Failures48h int }
			eventually(t, 30*time.Second, "bob's failures served", func() bool {
				_, err := proc.getJSON("/v1/users/bob@contoso.example/failures?at=2025-03-04T08:30:00Z", &fc)
				return err == nil && fc.Failures48h == 11
			})
			if mech == "PLAIN" {
				// The internal topics were created on the internal cluster;
				// the input cluster was never asked to create any.
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if _, err := kafkatest.PartitionCount(ctx, plainBrokers, prefix+"-keyed"); err != nil {
					t.Errorf("keyed topic on the internal cluster: %v", err)
				}
			}
			proc.stop()
		})
	}
}

// runToExit runs `signindiag command` with env on top of ours and returns
// its exit code and output; it fails the test if the process is still
// running after limit (a start-up that hangs instead of failing).
func runToExit(t *testing.T, limit time.Duration, env map[string]string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, buildBinary(t), args...)
	cmd.Env = append(os.Environ(), "SIGNINDIAG_HTTP_ADDR="+freeAddr(t))
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("signindiag %v still running after %s:\n%s", args, limit, out)
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, string(out)
}

// errorLines are the log's error lines.
func errorLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "level=ERROR") {
			lines = append(lines, l)
		}
	}
	return lines
}

// TestSecuredKafkaStartupFailures: a wrong password, an untrusted
// certificate, a plaintext client on the TLS port and missing topics with
// creation off each stop `ingest` at start-up with one error line that
// names the cause, and no secret in the output.
func TestSecuredKafkaStartupFailures(t *testing.T) {
	sb := kafkatest.Secured(t)
	chCfg := clickhousetest.Config(t)
	const wrongPassword = "wrong-pw-4711-SECRET"
	prefix := kafkatest.UniqueName("saslfail")
	base := func(extra map[string]string) map[string]string {
		env := processEnv(sb.Brokers, chCfg, prefix, map[string]string{"SIGNINDIAG_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
			"SIGNINDIAG_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256", "SIGNINDIAG_KAFKA_SASL_USERNAME": sb.ScramUser,
			"SIGNINDIAG_KAFKA_SASL_PASSWORD": sb.ScramPassword, "SIGNINDIAG_KAFKA_TLS_CA_FILE": sb.CAFile})
		for k, v := range extra {
			if v == "" {
				delete(env, k)
			} else {
				env[k] = v
			}
		}
		return env
	}
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"wrong password", base(map[string]string{"SIGNINDIAG_KAFKA_SASL_PASSWORD": wrongPassword}), "authentication failed"},
		{"untrusted certificate", base(map[string]string{"SIGNINDIAG_KAFKA_TLS_CA_FILE": kafkatest.UntrustedCA(t)}),
			"not signed by a trusted authority"},
		{"plaintext client", base(map[string]string{"SIGNINDIAG_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT", "SIGNINDIAG_KAFKA_SASL_MECHANISM": "",
			"SIGNINDIAG_KAFKA_SASL_USERNAME": "", "SIGNINDIAG_KAFKA_SASL_PASSWORD": "", "SIGNINDIAG_KAFKA_TLS_CA_FILE": ""}), "may expect TLS"},
		{"missing topics", base(map[string]string{"SIGNINDIAG_KAFKA_CREATE_TOPICS": "false"}), "topics missing and topic creation is off: "},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			code, out := runToExit(t, 60*time.Second, tc.env, "ingest")
			errs := errorLines(out)
			if code != 1 || len(errs) != 1 || !strings.Contains(errs[0], tc.want) {
				t.Fatalf("exit %d, error lines %q; want exit 1 and one line containing %q\n%s", code, errs, tc.want, out)
			}
			if tc.name == "missing topics" {
				for _, topic := range topicNames(prefix) {
					if !strings.Contains(errs[0], topic) {
						t.Errorf("the error does not name the missing topic %s: %s", topic, errs[0])
					}
				}
			}
			for _, secret := range []string{wrongPassword, sb.ScramPassword} {
				if strings.Contains(out, secret) {
					t.Errorf("the output shows a password:\n%s", out)
				}
			}
			t.Logf("%s", errs[0])
		})
	}
}

// TestLoadgenOverSASL: `signindiag loadgen` creates its topics and writes
// through the SASL_SSL listener with SCRAM-SHA-256 and the password in a
// file; every sign-in it reports arrives.
func TestLoadgenOverSASL(t *testing.T) {
	sb := kafkatest.Secured(t)
	plainBrokers := kafkatest.Brokers(t)
	topic, flags := kafkatest.UniqueName("lgsasl"), kafkatest.UniqueName("lgsasl-flags")
	t.Cleanup(func() { kafkatest.DeleteTopics(plainBrokers, topic, flags) })
	pw := filepath.Join(t.TempDir(), "pw")
	writeFile(t, pw, sb.ScramPassword)
	env := map[string]string{"SIGNINDIAG_KAFKA_BROKERS": strings.Join(sb.Brokers, ","), "SIGNINDIAG_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
		"SIGNINDIAG_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256", "SIGNINDIAG_KAFKA_SASL_USERNAME": sb.ScramUser,
		"SIGNINDIAG_KAFKA_SASL_PASSWORD_FILE": pw, "SIGNINDIAG_KAFKA_TLS_CA_FILE": sb.CAFile}
	code, out := runToExit(t, 90*time.Second, env, "loadgen", "--count", "300", "--shape", "graph", "--partitions", "2",
		"--topic", topic, "--flag-topic", flags, "--duplicates", "0", "--flags", "0")
	if code != 0 || !strings.Contains(out, "signins=300") {
		t.Fatalf("loadgen exited %d:\n%s", code, out)
	}
	n := 0
	for _, m := range kafkatest.ReadAll(t, plainBrokers, topic) {
		ds, err := entra.DecodeSignIns(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		n += len(ds)
	}
	if n != 300 {
		t.Errorf("%d sign-ins in %s, want 300", n, topic)
	}
	// The same with a wrong password: one line, exit 1.
	writeFile(t, pw, "not-it")
	code, out = runToExit(t, 60*time.Second, env, "loadgen", "--count", "10", "--topic", topic, "--flag-topic", flags)
	if errs := errorLines(out); code != 1 || len(errs) != 1 || !strings.Contains(errs[0], "authentication failed") {
		t.Errorf("wrong password: exit %d, errors %q\n%s", code, errs, out)
	}
}
