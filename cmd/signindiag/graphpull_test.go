package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/signindiag/signindiag/graphpull/graphtest"
	"github.com/signindiag/signindiag/pipeline/source/kafkatest"
	"github.com/signindiag/signindiag/schemas/entra"
)

const (
	graphTenant = "11111111-2222-4333-8444-555555555555"
	graphClient = "66666666-7777-4888-9999-000000000000"
)

func graphEnv(f *graphtest.Fake, caFile, cursor, secret string, brokers []string, topic string) map[string]string {
	return map[string]string{
		"SIGNINDIAG_KAFKA_BROKERS": strings.Join(brokers, ","), "SIGNINDIAG_KAFKA_SIGNIN_TOPIC": topic,
		"SIGNINDIAG_KAFKA_PARTITIONS": "2",
		"SIGNINDIAG_GRAPH_TENANT_ID":  graphTenant, "SIGNINDIAG_GRAPH_CLIENT_ID": graphClient, "SIGNINDIAG_GRAPH_CLIENT_SECRET": secret,
		"SIGNINDIAG_GRAPH_URL": f.Server.URL, "SIGNINDIAG_GRAPH_AUTHORITY_URL": f.Server.URL, "SIGNINDIAG_GRAPH_TLS_CA_FILE": caFile,
		"SIGNINDIAG_GRAPH_CURSOR_FILE": cursor, "SIGNINDIAG_GRAPH_EVENT_TYPES": "interactiveUser,servicePrincipal",
		"SIGNINDIAG_GRAPH_PAGE_SIZE": "5",
	}
}

// TestGraphPullCommand runs `signindiag graph-pull --once` against the
// local fake of Graph (trusted through SIGNINDIAG_GRAPH_TLS_CA_FILE) and
// reads what it published to the real Kafka.
func TestGraphPullCommand(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.UniqueName("graphcmd")
	t.Cleanup(func() { kafkatest.DeleteTopics(brokers, topic) })
	const secret = "graph-cmd-secret-31415"
	f := graphtest.New(t, graphTenant, graphClient, secret)
	now := time.Now().UTC()
	var want []string
	for i := range 12 {
		s := graphtest.SignIn{ID: fmt.Sprintf("cmd-int-%02d", i), EventType: "interactiveUser", Created: now.Add(-time.Duration(i+1) * time.Minute), User: "dana", ErrorCode: 50126}
		f.Add(s)
		want = append(want, s.ID)
	}
	sp := graphtest.SignIn{ID: "cmd-sp-0", EventType: "servicePrincipal", Created: now.Add(-time.Minute), User: "svc", ErrorCode: 7000222}
	f.Add(sp)
	want = append(want, sp.ID)
	f.ThrottleRequest(2, graphtest.Throttle{Status: 429, RetryAfter: "1"})
	cursor := filepath.Join(t.TempDir(), "cursor.json")
	env := graphEnv(f, f.CAFile(t), cursor, secret, brokers, topic)

	code, out := runToExit(t, 90*time.Second, env, "graph-pull", "--once")
	if code != 0 {
		t.Fatalf("graph-pull exited %d:\n%s", code, out)
	}
	var got []string
	for _, m := range kafkatest.ReadAll(t, brokers, topic) {
		ds, err := entra.DecodeSignIns(m.Value)
		if err != nil || len(ds) != 1 || ds[0].Err != nil {
			t.Fatalf("published message does not decode: %s", m.Value)
		}
		got = append(got, ds[0].SignIn.ID)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("published %v\nwant %v", got, want)
	}
	if !strings.Contains(out, "status=429") || strings.Contains(out, secret) {
		t.Errorf("want the throttling logged and no secret:\n%s", out)
	}
	// 12 interactive in pages of 5, one of them throttled once, then one
	// beta page: 5 requests.
	if n := len(f.Requests()); n != 5 {
		t.Errorf("%d requests to the fake, want 5: %+v", n, f.Requests())
	}

	// A wrong secret: exit 1, one error line naming the token endpoint's
	// answer, and neither secret in the output.
	env["SIGNINDIAG_GRAPH_CLIENT_SECRET"] = "graph-wrong-secret-27182"
	code, out = runToExit(t, 60*time.Second, env, "graph-pull", "--once")
	errs := errorLines(out)
	if code != 1 || len(errs) != 1 || !strings.Contains(errs[0], "invalid_client") {
		t.Errorf("wrong secret: exit %d, error lines %q\n%s", code, errs, out)
	}
	if strings.Contains(out, "graph-wrong-secret-27182") || strings.Contains(out, secret) {
		t.Errorf("the output shows a secret:\n%s", out)
	}
}
