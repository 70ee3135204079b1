// Package graphtest is a local fake of the Microsoft Graph sign-in log and
// of the Entra token endpoint, over TLS (MSAL accepts only https
// authorities), for tests that must not reach the internet. It serves the
// OpenID configuration and client-credentials tokens of one tenant, pages
// GET /v1.0 and /beta auditLogs/signIns newest first with @odata.nextLink,
// filters by createdDateTime and signInEventTypes as Graph does, and
// answers chosen requests with 429 or 503 and a Retry-After.
package graphtest

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// SignIn is one record the fake serves.
type SignIn struct {
	ID        string
	EventType string // interactiveUser, nonInteractiveUser, …
	Created   time.Time
	User      string
	ErrorCode int
}

// JSON is the record as Graph returns it.
func (s SignIn) JSON() map[string]any {
	return map[string]any{
		"id": s.ID, "createdDateTime": s.Created.UTC().Format("2006-01-02T15:04:05Z"),
		"userPrincipalName": s.User + "@contoso.example", "userId": "id-" + s.User, "userDisplayName": s.User,
		"appId": "c44b4083-3bb0-49c1-b47d-974e53cbdf3c", "appDisplayName": "Azure Portal", "ipAddress": "203.0.113.7",
		"clientAppUsed": "Browser", "correlationId": "corr-" + s.ID, "isInteractive": s.EventType == "interactiveUser",
		"signInEventTypes": []string{s.EventType},
		"status":           map[string]any{"errorCode": s.ErrorCode},
	}
}

// Throttle answers the Nth sign-in request (1-based, counting every
// request to a signIns URL) with Status and Retry-After.
type Throttle struct {
	Status     int
	RetryAfter string
}

// Fake is the server.
type Fake struct {
	Server *httptest.Server
	Tenant string
	Client string
	Secret string
	// Cert, when set, is the app's registered certificate: a client
	// assertion signed with its key is accepted instead of the secret.
	Cert *x509.Certificate
	// PageSize caps $top, so paging shows with few records.
	PageSize int

	mu        sync.Mutex
	signIns   []SignIn
	throttles map[int]Throttle
	requests  []Request
	tokens    int
	issued    string
}

// Request is one sign-in list request the fake answered (or throttled).
type Request struct {
	Version string // v1.0 or beta
	Filter  string
	Status  int
}

// New starts a fake; it stops when the test ends.
func New(t testing.TB, tenant, client, secret string) *Fake {
	t.Helper()
	f := &Fake{Tenant: tenant, Client: client, Secret: secret, PageSize: 1000, throttles: map[int]Throttle{},
		issued: fmt.Sprintf("fake-token-%d", time.Now().UnixNano())}
	f.Server = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Server.Close)
	return f
}

// CAFile writes the server's certificate as PEM (to trust it).
func (f *Fake) CAFile(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "graph-fake-ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.Server.Certificate().Raw})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Add makes records visible from now on (a record added after a poll is
// one that arrived late).
func (f *Fake) Add(s ...SignIn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.signIns = append(f.signIns, s...)
}

// ThrottleRequest answers the nth sign-in request with th.
func (f *Fake) ThrottleRequest(n int, th Throttle) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.throttles[n] = th
}

// Requests returns the sign-in requests so far.
func (f *Fake) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Request(nil), f.requests...)
}

// Tokens returns how many tokens were issued.
func (f *Fake) Tokens() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokens
}

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	base := f.Server.URL
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/"+f.Tenant+"/v2.0/.well-known/openid-configuration":
		writeJSON(w, http.StatusOK, map[string]any{
			"authorization_endpoint": base + "/" + f.Tenant + "/oauth2/v2.0/authorize",
			"token_endpoint":         base + "/" + f.Tenant + "/oauth2/v2.0/token",
			"issuer":                 base + "/" + f.Tenant + "/v2.0",
		})
	case r.Method == http.MethodPost && r.URL.Path == "/"+f.Tenant+"/oauth2/v2.0/token":
		f.token(w, r)
	case r.Method == http.MethodGet && (r.URL.Path == "/v1.0/auditLogs/signIns" || r.URL.Path == "/beta/auditLogs/signIns"):
		f.list(w, r)
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]any{"code": "NotFound", "message": r.URL.Path}})
	}
}

func (f *Fake) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request"})
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Get("client_id") != f.Client ||
		!f.authenticated(r) {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_client",
			"error_description": "AADSTS7000215: Invalid client secret provided.", "error_codes": []int{7000215}})
		return
	}
	f.mu.Lock()
	f.tokens++
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
		"access_token": f.issued})
}

var (
	geRe   = regexp.MustCompile(`createdDateTime ge (\S+)`)
	typeRe = regexp.MustCompile(`signInEventTypes/any\(t: t eq '(\w+)'\)`)
)

func (f *Fake) list(w http.ResponseWriter, r *http.Request) {
	version := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")[0]
	filter := r.URL.Query().Get("$filter")
	f.mu.Lock()
	f.requests = append(f.requests, Request{Version: version, Filter: filter})
	idx := len(f.requests) - 1
	th, throttled := f.throttles[len(f.requests)]
	signIns := append([]SignIn(nil), f.signIns...)
	f.mu.Unlock()
	status := func(code int) {
		f.mu.Lock()
		f.requests[idx].Status = code
		f.mu.Unlock()
	}
	if r.Header.Get("Authorization") != "Bearer "+f.issued {
		status(http.StatusUnauthorized)
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]any{"code": "InvalidAuthenticationToken"}})
		return
	}
	if throttled {
		status(th.Status)
		w.Header().Set("Retry-After", th.RetryAfter)
		writeJSON(w, th.Status, map[string]any{"error": map[string]any{"code": "TooManyRequests", "message": "throttled"}})
		return
	}
	var from time.Time
	if m := geRe.FindStringSubmatch(filter); m != nil {
		t, err := time.Parse(time.RFC3339, m[1])
		if err != nil {
			status(http.StatusBadRequest)
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"code": "BadRequest", "message": err.Error()}})
			return
		}
		from = t
	}
	eventType := "interactiveUser" // v1.0 lists interactive sign-ins only
	if m := typeRe.FindStringSubmatch(filter); m != nil && version == "beta" {
		eventType = m[1]
	}
	var match []SignIn
	for _, s := range signIns {
		if s.EventType == eventType && !s.Created.Before(from) {
			match = append(match, s)
		}
	}
	sort.Slice(match, func(i, j int) bool { return match[i].Created.After(match[j].Created) })
	top, _ := strconv.Atoi(r.URL.Query().Get("$top"))
	if top <= 0 || top > f.PageSize {
		top = f.PageSize
	}
	skip, _ := strconv.Atoi(r.URL.Query().Get("$skiptoken"))
	end := min(skip+top, len(match))
	values := []map[string]any{}
	for _, s := range match[min(skip, len(match)):end] {
		values = append(values, s.JSON())
	}
	resp := map[string]any{"@odata.context": f.Server.URL + "/" + version + "/$metadata#auditLogs/signIns", "value": values}
	if end < len(match) {
		q := r.URL.Query()
		q.Set("$skiptoken", strconv.Itoa(end))
		resp["@odata.nextLink"] = f.Server.URL + r.URL.Path + "?" + q.Encode()
	}
	status(http.StatusOK)
	writeJSON(w, http.StatusOK, resp)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// authenticated checks the client secret, or a client assertion: a JWT
// signed with the registered certificate's key, issued by the client for
// the token endpoint.
func (f *Fake) authenticated(r *http.Request) bool {
	assertion := r.PostForm.Get("client_assertion")
	if assertion == "" {
		return f.Secret != "" && r.PostForm.Get("client_secret") == f.Secret
	}
	if f.Cert == nil || r.PostForm.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		return false
	}
	tok, err := jwt.Parse(assertion, func(*jwt.Token) (any, error) { return f.Cert.PublicKey, nil },
		jwt.WithValidMethods([]string{"PS256", "RS256"}), jwt.WithIssuer(f.Client), jwt.WithSubject(f.Client),
		jwt.WithAudience(f.Server.URL+"/"+f.Tenant+"/oauth2/v2.0/token"))
	return err == nil && tok.Valid
}
