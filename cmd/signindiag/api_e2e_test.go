package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signindiag/signindiag/internal/testenv"
	"github.com/signindiag/signindiag/sinks/clickhouse"
	"github.com/signindiag/signindiag/sinks/clickhouse/clickhousetest"
)

const (
	e2eReaderToken = "e2e-reader-token-4f1c2a9b"
	e2eAdminToken  = "e2e-admin-token-77d0e3c1a5"
)

// TestServeRefusesToListenBeyondLoopbackWithoutKeys: no keys and an
// address on every interface stop start-up, with a line that says why.
func TestServeRefusesToListenBeyondLoopbackWithoutKeys(t *testing.T) {
	testenv.Integration(t)
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	p := startProcess(t, "serve", map[string]string{"SIGNINDIAG_HTTP_ADDR": ":" + port, "SIGNINDIAG_CLICKHOUSE_ADDR": "127.0.0.1:1"})
	select {
	case err := <-p.done:
		if err == nil {
			t.Fatal("serve without keys on :port exited 0")
		}
	case <-time.After(60 * time.Second):
		t.Fatal("serve without keys on :port kept running")
	}
	log, _ := os.ReadFile(p.log)
	if !strings.Contains(string(log), "SIGNINDIAG_API_KEYS is empty") || !strings.Contains(string(log), "loopback") {
		t.Fatalf("start-up did not say why:\n%s", log)
	}
}

// migratedDatabase returns the settings of a fresh, migrated database.
func migratedDatabase(t *testing.T) clickhouse.Config {
	t.Helper()
	cfg := clickhousetest.Config(t)
	s, err := clickhouse.Open(context.Background(), cfg, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func clickHouseEnv(cfg clickhouse.Config) map[string]string {
	return map[string]string{"SIGNINDIAG_CLICKHOUSE_ADDR": cfg.Addr, "SIGNINDIAG_CLICKHOUSE_USER": cfg.User,
		"SIGNINDIAG_CLICKHOUSE_PASSWORD": cfg.Password, "SIGNINDIAG_CLICKHOUSE_DATABASE": cfg.Database}
}

// TestServeOverTLSWithTokens: the listener speaks TLS from the given files;
// health and the page are open, the API needs a token of the right role,
// and no token reaches the log.
func TestServeOverTLSWithTokens(t *testing.T) {
	testenv.Integration(t)
	cfg := migratedDatabase(t)
	certFile, keyFile, pool := selfSigned(t)
	env := clickHouseEnv(cfg)
	env["SIGNINDIAG_API_KEYS"] = "reader:" + e2eReaderToken + ",admin:" + e2eAdminToken
	env["SIGNINDIAG_HTTP_TLS_CERT_FILE"], env["SIGNINDIAG_HTTP_TLS_KEY_FILE"] = certFile, keyFile
	p := startProcess(t, "serve", env)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(path, token string) (int, string) {
		req, _ := http.NewRequest("GET", "https://"+p.addr+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	eventually(t, 60*time.Second, "serve answers over TLS", func() bool { c, _ := get("/healthz", ""); return c == 200 })
	for _, c := range []struct {
		path, token string
		want        int
	}{
		{"/readyz", "", 200},
		{"/metrics", "", 200},
		{"/", "", 200},
		{"/v1/openapi.json", "", 200},
		{"/v1/diagnose?correlationId=nothing", "", 401},
		{"/v1/diagnose?correlationId=nothing", "wrong-token-0123456789", 401},
		{"/v1/diagnose?correlationId=nothing", e2eReaderToken, 200},
		{"/v1/feedback", e2eReaderToken, 403},
		{"/v1/feedback", e2eAdminToken, 200},
	} {
		if code, body := get(c.path, c.token); code != c.want {
			t.Errorf("GET %s: %d %s, want %d", c.path, code, body, c.want)
		}
	}
	// Plain HTTP on the TLS port is refused.
	if resp, err := http.Get("http://" + p.addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP answered 200 on the TLS listener")
		}
	}
	p.stop()
	log, _ := os.ReadFile(p.log)
	if strings.Contains(string(log), e2eReaderToken) || strings.Contains(string(log), e2eAdminToken) {
		t.Errorf("a token reached the log:\n%s", log)
	}
	if !strings.Contains(string(log), "tls=true") {
		t.Errorf("the log does not say the listener uses TLS:\n%s", log)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "signindiag test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})))
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
