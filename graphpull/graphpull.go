// Package graphpull polls Microsoft Graph's sign-in log
// (GET /v1.0/auditLogs/signIns, and the beta endpoint filtered by
// signInEventTypes for non-interactive, service-principal and
// managed-identity sign-ins) and publishes every sign-in, as the Graph JSON
// object it received, to the sign-in topic. It is for tenants that cannot
// stream their logs to an Event Hub.
//
// Graph's logs arrive late (minutes, sometimes more), so each poll asks for
// createdDateTime >= cursor − Overlap and moves the cursor to the poll's
// start once every page is published. The cursor is kept in a file written
// atomically, so a restart neither misses records nor reads again more
// than the overlap; the duplicates the overlap brings are harmless
// downstream (sign-ins are stored idempotently by id).
package graphpull

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/segmentio/kafka-go"
)

// Event types of Graph's signInEventTypes. interactiveUser is what v1.0
// returns; the others need the beta endpoint.
const (
	Interactive      = "interactiveUser"
	NonInteractive   = "nonInteractiveUser"
	ServicePrincipal = "servicePrincipal"
	ManagedIdentity  = "managedIdentity"
)

// Config of the poller. Environment names carry SIGNINDIAG_GRAPH_.
type Config struct {
	TenantID string `env:"TENANT_ID"`
	ClientID string `env:"CLIENT_ID"`
	// ClientSecret (or ClientSecretFile), or CertFile: a PEM file with the
	// certificate registered on the app and its private key.
	ClientSecret     string `env:"CLIENT_SECRET"`
	ClientSecretFile string `env:"CLIENT_SECRET_FILE"`
	CertFile         string `env:"CERT_FILE"`
	// EventTypes to poll: interactiveUser (v1.0), nonInteractiveUser,
	// servicePrincipal, managedIdentity (beta).
	EventTypes []string `env:"EVENT_TYPES, default=interactiveUser"`
	// Interval between polls; Overlap is how far back each poll reaches
	// before the previous one's start, for records that arrive late.
	Interval time.Duration `env:"INTERVAL, default=1m"`
	Overlap  time.Duration `env:"OVERLAP, default=10m"`
	// InitialLookback: how far back the first poll (no cursor yet) reads.
	InitialLookback time.Duration `env:"INITIAL_LOOKBACK, default=24h"`
	// PageSize is $top (Graph serves at most 1000 sign-ins a page).
	PageSize int `env:"PAGE_SIZE, default=1000"`
	// CursorFile keeps the cursor between runs.
	CursorFile string `env:"CURSOR_FILE, default=graph-cursor.json"`
	// GraphURL and AuthorityURL: national clouds, or a local fake in tests.
	GraphURL     string `env:"URL, default=https://graph.microsoft.com"`
	AuthorityURL string `env:"AUTHORITY_URL, default=https://login.microsoftonline.com"`
	// CAFile adds trusted certificates for both (a TLS-inspecting proxy).
	CAFile string `env:"TLS_CA_FILE"`
	// MaxRetries of one request answered 429, 503 or another 5xx.
	MaxRetries int `env:"MAX_RETRIES, default=8"`
}

// Validate names every wrong setting; it reads no file.
func (c Config) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("SIGNINDIAG_GRAPH_%s: %s", name, fmt.Sprintf(format, args...)))
	}
	if c.TenantID == "" {
		bad("TENANT_ID", "expected the directory (tenant) id, got nothing")
	}
	if c.ClientID == "" {
		bad("CLIENT_ID", "expected the application (client) id, got nothing")
	}
	n := 0
	for _, v := range []string{c.ClientSecret, c.ClientSecretFile, c.CertFile} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		bad("CLIENT_SECRET", "set exactly one of SIGNINDIAG_GRAPH_CLIENT_SECRET, SIGNINDIAG_GRAPH_CLIENT_SECRET_FILE and SIGNINDIAG_GRAPH_CERT_FILE")
	}
	if len(c.EventTypes) == 0 {
		bad("EVENT_TYPES", "expected a comma-separated list such as interactiveUser,nonInteractiveUser")
	}
	for _, t := range c.EventTypes {
		switch t {
		case Interactive, NonInteractive, ServicePrincipal, ManagedIdentity:
		default:
			bad("EVENT_TYPES", "expected interactiveUser, nonInteractiveUser, servicePrincipal or managedIdentity, got %q", t)
		}
	}
	if c.Interval <= 0 {
		bad("INTERVAL", "expected a positive duration, got %s", c.Interval)
	}
	if c.Overlap < 0 {
		bad("OVERLAP", "expected a duration of 0 or more, got %s", c.Overlap)
	}
	if c.InitialLookback <= 0 {
		bad("INITIAL_LOOKBACK", "expected a positive duration, got %s", c.InitialLookback)
	}
	if c.PageSize < 1 || c.PageSize > 1000 {
		bad("PAGE_SIZE", "expected 1 to 1000, got %d", c.PageSize)
	}
	if c.CursorFile == "" {
		bad("CURSOR_FILE", "expected a file path, got nothing")
	}
	for name, u := range map[string]string{"URL": c.GraphURL, "AUTHORITY_URL": c.AuthorityURL} {
		if p, err := url.Parse(u); err != nil || p.Scheme != "https" || p.Host == "" {
			bad(name, "expected an https:// URL, got %q", u)
		}
	}
	if c.MaxRetries < 0 {
		bad("MAX_RETRIES", "expected 0 or more, got %d", c.MaxRetries)
	}
	return errors.Join(errs...)
}

// Producer is what the poller publishes to; *kafka.Writer satisfies it.
type Producer interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// Poller polls Graph and publishes sign-ins.
type Poller struct {
	cfg    Config
	topic  string
	out    Producer
	http   *http.Client
	tokens tokenSource
	cursor *cursorFile
	log    *slog.Logger
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error
}

// tokenSource gives a bearer token for Graph.
type tokenSource func(ctx context.Context) (string, error)

// HTTPClient returns the client the poller uses for the authority and
// Graph: the system's roots plus cfg.CAFile.
func HTTPClient(cfg Config) (*http.Client, error) {
	if cfg.CAFile == "" {
		return &http.Client{Timeout: 2 * time.Minute}, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	pem, err := os.ReadFile(cfg.CAFile)
	if err != nil {
		return nil, fmt.Errorf("SIGNINDIAG_GRAPH_TLS_CA_FILE: %w", err)
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("SIGNINDIAG_GRAPH_TLS_CA_FILE: %s holds no PEM certificate", cfg.CAFile)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Timeout: 2 * time.Minute, Transport: tr}, nil
}

// New prepares a poller: it reads the credential and the cursor file and
// sets up MSAL's confidential client (client-credentials flow).
func New(cfg Config, httpClient *http.Client, topic string, out Producer, log *slog.Logger) (*Poller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cred, err := credential(cfg)
	if err != nil {
		return nil, err
	}
	authorityBase := strings.TrimRight(cfg.AuthorityURL, "/")
	opts := []confidential.Option{confidential.WithHTTPClient(httpClient)}
	if authorityBase != "https://login.microsoftonline.com" {
		// A sovereign cloud's or a test's authority is not in MSAL's list
		// of known hosts; asking Microsoft to discover it would fail.
		opts = append(opts, confidential.WithInstanceDiscovery(false))
	}
	app, err := confidential.New(authorityBase+"/"+cfg.TenantID, cfg.ClientID, cred, opts...)
	if err != nil {
		return nil, fmt.Errorf("graph: MSAL client for authority %s: %w", authorityBase, err)
	}
	scope := strings.TrimRight(cfg.GraphURL, "/") + "/.default"
	cur, err := openCursor(cfg.CursorFile)
	if err != nil {
		return nil, err
	}
	return &Poller{cfg: cfg, topic: topic, out: out, http: httpClient, cursor: cur, log: log, now: time.Now,
		sleep: sleepCtx,
		tokens: func(ctx context.Context) (string, error) {
			// MSAL answers from its cache until the token nears expiry.
			res, err := app.AcquireTokenByCredential(ctx, []string{scope})
			if err != nil {
				return "", fmt.Errorf("graph: token for %s from %s (tenant %s, client %s): %w", scope, authorityBase, cfg.TenantID, cfg.ClientID, err)
			}
			return res.AccessToken, nil
		}}, nil
}

func credential(cfg Config) (confidential.Credential, error) {
	switch {
	case cfg.CertFile != "":
		pem, err := os.ReadFile(cfg.CertFile)
		if err != nil {
			return confidential.Credential{}, fmt.Errorf("SIGNINDIAG_GRAPH_CERT_FILE: %w", err)
		}
		certs, key, err := confidential.CertFromPEM(pem, "")
		if err != nil {
			return confidential.Credential{}, fmt.Errorf("SIGNINDIAG_GRAPH_CERT_FILE %s: %w", cfg.CertFile, err)
		}
		return confidential.NewCredFromCert(certs, key)
	case cfg.ClientSecretFile != "":
		b, err := os.ReadFile(cfg.ClientSecretFile)
		if err != nil {
			return confidential.Credential{}, fmt.Errorf("SIGNINDIAG_GRAPH_CLIENT_SECRET_FILE: %w", err)
		}
		return confidential.NewCredFromSecret(strings.TrimRight(string(b), "\r\n"))
	}
	return confidential.NewCredFromSecret(cfg.ClientSecret)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Run polls every Interval until ctx ends. The first poll's failure is
// returned (wrong credentials, a missing permission or an unreachable
// Graph show at start-up); a later failed poll is logged and tried again
// at the next interval from the same cursor.
func (p *Poller) Run(ctx context.Context) error {
	for first := true; ; first = false {
		if _, err := p.PollOnce(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if first {
				return err
			}
			p.log.Error("graph poll failed; trying again at the next interval", "err", err)
		}
		if err := p.sleep(ctx, p.cfg.Interval); err != nil {
			return nil
		}
	}
}

// PollOnce reads each event type's sign-ins since its cursor minus the
// overlap, publishes them and moves the cursor. It returns the number of
// sign-ins published.
func (p *Poller) PollOnce(ctx context.Context) (int, error) {
	total := 0
	for _, et := range p.cfg.EventTypes {
		start := p.now().UTC()
		from, ok := p.cursor.get(et)
		if ok {
			from = from.Add(-p.cfg.Overlap)
		} else {
			from = start.Add(-p.cfg.InitialLookback)
		}
		n, err := p.pollType(ctx, et, from)
		total += n
		if err != nil {
			return total, fmt.Errorf("graph %s sign-ins since %s: %w", et, from.Format(time.RFC3339), err)
		}
		if err := p.cursor.set(et, start); err != nil {
			return total, err
		}
		p.log.Info("graph poll done", "event_type", et, "from", from.Format(time.RFC3339), "published", n,
			"cursor", start.Format(time.RFC3339))
	}
	return total, nil
}

// firstURL is the query of one event type since from.
func (p *Poller) firstURL(eventType string, from time.Time) string {
	base := strings.TrimRight(p.cfg.GraphURL, "/")
	filter := "createdDateTime ge " + from.UTC().Format("2006-01-02T15:04:05Z")
	version := "v1.0"
	if eventType != Interactive {
		version = "beta"
		filter += " and signInEventTypes/any(t: t eq '" + eventType + "')"
	}
	q := url.Values{"$filter": {filter}, "$top": {strconv.Itoa(p.cfg.PageSize)}}
	return base + "/" + version + "/auditLogs/signIns?" + q.Encode()
}

// page is one response of the sign-in list.
type page struct {
	Value    []json.RawMessage `json:"value"`
	NextLink string            `json:"@odata.nextLink"`
}

func (p *Poller) pollType(ctx context.Context, eventType string, from time.Time) (int, error) {
	next := p.firstURL(eventType, from)
	n := 0
	for next != "" {
		var pg page
		if err := p.get(ctx, next, &pg); err != nil {
			return n, err
		}
		if len(pg.Value) > 0 {
			msgs := make([]kafka.Message, 0, len(pg.Value))
			for _, v := range pg.Value {
				var id struct {
					ID string `json:"id"`
				}
				_ = json.Unmarshal(v, &id)
				msgs = append(msgs, kafka.Message{Topic: p.topic, Key: []byte(id.ID), Value: v})
			}
			if err := p.out.WriteMessages(ctx, msgs...); err != nil {
				return n, fmt.Errorf("publish to %s: %w", p.topic, err)
			}
			n += len(msgs)
		}
		next = pg.NextLink
	}
	return n, nil
}

// get fetches one URL into v, honouring Retry-After on 429 and 503 and
// backing off on other server errors; a 401 gets a fresh token once.
func (p *Poller) get(ctx context.Context, u string, v any) error {
	backoff := time.Second
	refreshed := false
	for attempt := 0; ; attempt++ {
		token, err := p.tokens(ctx)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept", "application/json")
		resp, err := p.http.Do(req)
		if err != nil {
			if ctx.Err() != nil || attempt >= p.cfg.MaxRetries {
				return fmt.Errorf("GET %s: %w", redactURL(u), err)
			}
			p.log.Warn("graph request failed; retrying", "err", err, "in", backoff)
			if err := p.sleep(ctx, backoff); err != nil {
				return err
			}
			backoff = min(2*backoff, time.Minute)
			continue
		}
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		_ = resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusOK && rerr == nil:
			if err := json.Unmarshal(body, v); err != nil {
				return fmt.Errorf("GET %s: response is not a sign-in list: %w", redactURL(u), err)
			}
			return nil
		case resp.StatusCode == http.StatusUnauthorized && !refreshed:
			refreshed = true
			continue
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 || rerr != nil:
			if attempt >= p.cfg.MaxRetries {
				return fmt.Errorf("GET %s: %s after %d attempts: %s", redactURL(u), resp.Status, attempt+1, snippet(body))
			}
			wait, ok := retryAfter(resp.Header.Get("Retry-After"), p.now())
			if !ok {
				wait = backoff
				backoff = min(2*backoff, time.Minute)
			}
			p.log.Warn("graph throttled or unavailable; waiting", "status", resp.StatusCode, "wait", wait)
			if err := p.sleep(ctx, wait); err != nil {
				return err
			}
		default:
			return fmt.Errorf("GET %s: %s: %s", redactURL(u), resp.Status, snippet(body))
		}
	}
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(h string, now time.Time) (time.Duration, bool) {
	if h == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// redactURL drops the query (a nextLink's skip token is opaque and long).
func redactURL(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
