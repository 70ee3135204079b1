package graphpull

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/signindiag/signindiag/graphpull/graphtest"
	"github.com/signindiag/signindiag/pipeline/source/kafkatest"
	"github.com/signindiag/signindiag/schemas/entra"
)

const (
	tenant = "11111111-2222-4333-8444-555555555555"
	client = "66666666-7777-4888-9999-000000000000"
	secret = "s3cr3t-graph-client-Q8~xyz"
)

// clock is the poller's wall clock and sleeper in tests: sleeping
// advances it and records the wait, so Retry-After is checked without
// waiting.
type clock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func testConfig(f *graphtest.Fake, cursor string) Config {
	return Config{TenantID: tenant, ClientID: client, ClientSecret: secret, EventTypes: []string{Interactive, NonInteractive},
		Interval: time.Minute, Overlap: 5 * time.Minute, InitialLookback: 2 * time.Hour, PageSize: 1000, CursorFile: cursor,
		GraphURL: f.Server.URL, AuthorityURL: f.Server.URL, MaxRetries: 3}
}

func newPoller(t *testing.T, cfg Config, httpClient *http.Client, topic string, out Producer, c *clock) *Poller {
	t.Helper()
	p, err := New(cfg, httpClient, topic, out, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	p.now, p.sleep = c.Now, c.Sleep
	return p
}

// ids decodes the topic's messages with the pipeline's decoder.
func ids(t *testing.T, msgs []kafka.Message) []string {
	t.Helper()
	var out []string
	for _, m := range msgs {
		ds, err := entra.DecodeSignIns(m.Value)
		if err != nil || len(ds) != 1 || ds[0].Err != nil {
			t.Fatalf("message %s does not decode as one sign-in: %v %+v", m.Value, err, ds)
		}
		if string(m.Key) != ds[0].SignIn.ID {
			t.Errorf("message key %q, sign-in %q", m.Key, ds[0].SignIn.ID)
		}
		out = append(out, ds[0].SignIn.ID)
	}
	slices.Sort(out)
	return out
}

// TestPollerAgainstFakeGraph: paging, throttling with Retry-After, the
// beta event-type filter, late records caught by the overlap, and a
// restart that resumes from the cursor; every sign-in lands in the real
// Kafka topic and decodes.
func TestPollerAgainstFakeGraph(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.UniqueName("graph")
	kafkatest.CreateTopics(t, brokers, 2, topic)
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Balancer: &kafka.RoundRobin{}, RequiredAcks: kafka.RequireAll,
		BatchTimeout: 5 * time.Millisecond}
	defer w.Close()

	f := graphtest.New(t, tenant, client, secret)
	f.PageSize = 10
	start := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
	c := &clock{now: start}
	var want []string
	for i := range 25 {
		s := graphtest.SignIn{ID: fmt.Sprintf("int-%02d", i), EventType: Interactive, Created: start.Add(-time.Duration(90-3*i) * time.Minute),
			User: "alice", ErrorCode: 50126}
		f.Add(s)
		want = append(want, s.ID)
	}
	for i := range 7 {
		s := graphtest.SignIn{ID: fmt.Sprintf("nonint-%d", i), EventType: NonInteractive, Created: start.Add(-time.Duration(10+i) * time.Minute), User: "bob"}
		f.Add(s)
		want = append(want, s.ID)
	}
	// Older than the initial lookback, and a type not polled: never read.
	f.Add(graphtest.SignIn{ID: "too-old", EventType: Interactive, Created: start.Add(-3 * time.Hour), User: "carol"},
		graphtest.SignIn{ID: "sp-0", EventType: ServicePrincipal, Created: start.Add(-time.Minute), User: "svc"})
	f.ThrottleRequest(2, graphtest.Throttle{Status: http.StatusTooManyRequests, RetryAfter: "7"})
	f.ThrottleRequest(4, graphtest.Throttle{Status: http.StatusServiceUnavailable, RetryAfter: "3"})

	cursor := filepath.Join(t.TempDir(), "cursor.json")
	httpClient := f.Server.Client()
	p := newPoller(t, testConfig(f, cursor), httpClient, topic, w, c)
	n, err := p.PollOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n != 32 {
		t.Errorf("first poll published %d, want 32", n)
	}
	slices.Sort(want)
	if got := ids(t, kafkatest.ReadAll(t, brokers, topic)); !slices.Equal(got, want) {
		t.Fatalf("topic holds %v\nwant %v", got, want)
	}
	if !slices.Contains(c.sleeps, 7*time.Second) || !slices.Contains(c.sleeps, 3*time.Second) {
		t.Errorf("Retry-After not honoured: slept %v, want 7s and 3s among them", c.sleeps)
	}
	reqs := f.Requests()
	// 25 interactive in pages of 10 = 3 pages + 1 throttled retry, then
	// 7 non-interactive = 1 page + 1 retry.
	if len(reqs) != 6 || reqs[0].Version != "v1.0" || reqs[5].Version != "beta" ||
		!strings.Contains(reqs[5].Filter, "signInEventTypes/any(t: t eq 'nonInteractiveUser')") ||
		!strings.Contains(reqs[0].Filter, "createdDateTime ge 2026-05-04T10:00:00Z") {
		t.Errorf("requests: %+v", reqs)
	}
	if f.Tokens() != 1 {
		t.Errorf("%d tokens issued; MSAL should have cached the first", f.Tokens())
	}

	// A record created before the first poll's start arrives late; the
	// next poll, a minute later, reaches back by the overlap and finds it.
	late := graphtest.SignIn{ID: "int-late", EventType: Interactive, Created: start.Add(-2 * time.Minute), User: "alice", ErrorCode: 50126}
	f.Add(late)
	c.Advance(time.Minute)
	secondStart := c.Now()
	before := len(f.Requests())
	if _, err := p.PollOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	second := f.Requests()[before:]
	if len(second) != 2 {
		t.Fatalf("second poll: %+v", second)
	}
	// The cursor of each type is the start of its last poll; the
	// interactive poll started at `start` (throttling advanced the clock
	// only later), so the second reaches back to start − 5m.
	if !strings.Contains(second[0].Filter, "createdDateTime ge 2026-05-04T11:55:00Z") {
		t.Errorf("second poll's filter %q: want the first poll's start minus the 5m overlap", second[0].Filter)
	}
	got := ids(t, kafkatest.ReadAll(t, brokers, topic))
	if !slices.Contains(got, "int-late") {
		t.Errorf("the late record was missed: %v", got)
	}
	// Re-read only what the overlap covers: int-24 (start-18m) is outside
	// it, the late record inside.
	if c := count(got, "int-24"); c != 1 {
		t.Errorf("int-24 published %d times; the overlap should not reach it", c)
	}

	// A restart resumes from the cursor file, not from the initial lookback.
	c.Advance(time.Minute)
	p2 := newPoller(t, testConfig(f, cursor), httpClient, topic, w, c)
	before = len(f.Requests())
	if _, err := p2.PollOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	third := f.Requests()[before:]
	wantFrom := secondStart.Add(-5 * time.Minute).Format("2006-01-02T15:04:05Z")
	if len(third) == 0 || !strings.Contains(third[0].Filter, "ge "+wantFrom) {
		t.Errorf("after a restart: %+v, want ge %s", third, wantFrom)
	}
}

func count(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

// TestPollerWrongSecret: the token endpoint's refusal is the poll's error;
// the secret appears nowhere in it, and the cursor does not move.
func TestPollerWrongSecret(t *testing.T) {
	f := graphtest.New(t, tenant, client, "the-right-one")
	cursor := filepath.Join(t.TempDir(), "cursor.json")
	c := &clock{now: time.Now()}
	p := newPoller(t, testConfig(f, cursor), f.Server.Client(), "unused", nil, c)
	_, err := p.PollOnce(context.Background())
	if err == nil || !strings.Contains(err.Error(), "token") || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("got %v, want the token endpoint's refusal", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("the error shows the client secret: %v", err)
	}
	if _, ok := p.cursor.get(Interactive); ok {
		t.Error("the cursor moved after a failed poll")
	}
	// Polling continuously, the first poll's failure ends the run.
	if err := p.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("Run: got %v, want the first poll's failure", err)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for h, want := range map[string]time.Duration{"5": 5 * time.Second, "0": 0,
		now.Add(30 * time.Second).Format(http.TimeFormat): 30 * time.Second} {
		if got, ok := retryAfter(h, now); !ok || got != want {
			t.Errorf("Retry-After %q: %s %v, want %s", h, got, ok, want)
		}
	}
	if _, ok := retryAfter("soon", now); ok {
		t.Error("an unreadable Retry-After was accepted")
	}
}

func TestValidateConfig(t *testing.T) {
	ok := Config{TenantID: "t", ClientID: "c", ClientSecret: "s", EventTypes: []string{Interactive}, Interval: time.Minute,
		InitialLookback: time.Hour, PageSize: 100, CursorFile: "c.json", GraphURL: "https://graph.microsoft.com",
		AuthorityURL: "https://login.microsoftonline.com"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := ok
	bad.ClientSecret, bad.EventTypes, bad.PageSize, bad.GraphURL = "", []string{"everything"}, 5000, "http://graph"
	err := bad.Validate()
	for _, want := range []string{"SIGNINDIAG_GRAPH_CLIENT_SECRET", "SIGNINDIAG_GRAPH_EVENT_TYPES", "SIGNINDIAG_GRAPH_PAGE_SIZE", "SIGNINDIAG_GRAPH_URL"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want it to name %s", err, want)
		}
	}
}

// TestPollerWithCertificate: the app authenticates with a certificate (a
// client assertion MSAL signs with its key) instead of a secret.
func TestPollerWithCertificate(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "signindiag graph-pull"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pemFile := filepath.Join(t.TempDir(), "app.pem")
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	pemData := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...)
	if err := os.WriteFile(pemFile, pemData, 0o600); err != nil {
		t.Fatal(err)
	}

	f := graphtest.New(t, tenant, client, "")
	f.Cert = cert
	f.Add(graphtest.SignIn{ID: "cert-0", EventType: Interactive, Created: time.Now().Add(-time.Minute), User: "erin"})
	cfg := testConfig(f, filepath.Join(t.TempDir(), "cursor.json"))
	cfg.ClientSecret, cfg.CertFile, cfg.EventTypes = "", pemFile, []string{Interactive}
	var got []kafka.Message
	p := newPoller(t, cfg, f.Server.Client(), "t", producerFunc(func(_ context.Context, m ...kafka.Message) error {
		got = append(got, m...)
		return nil
	}), &clock{now: time.Now()})
	if _, err := p.PollOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || string(got[0].Key) != "cert-0" || f.Tokens() != 1 {
		t.Errorf("published %d, tokens %d", len(got), f.Tokens())
	}
}

type producerFunc func(ctx context.Context, msgs ...kafka.Message) error

func (f producerFunc) WriteMessages(ctx context.Context, msgs ...kafka.Message) error {
	return f(ctx, msgs...)
}
