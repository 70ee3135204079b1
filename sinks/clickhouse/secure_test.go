package clickhouse_test

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/signindiag/signindiag/internal/testcerts"
	"github.com/signindiag/signindiag/sinks/clickhouse"
	"github.com/signindiag/signindiag/sinks/clickhouse/clickhousetest"
)

// tlsProxy terminates TLS in front of the real server's native port, as
// ClickHouse's own tcp_port_secure does (the local 18.16 server has no
// certificate); it returns its address.
func tlsProxy(t *testing.T, backend string, cert tls.Certificate) string {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				b, err := net.Dial("tcp", backend)
				if err != nil {
					return
				}
				defer b.Close()
				go func() { _, _ = io.Copy(b, c); b.Close() }()
				_, _ = io.Copy(c, b)
			}()
		}
	}()
	return l.Addr().String()
}

func TestTLSToNativePort(t *testing.T) {
	cfg := clickhousetest.Config(t)
	caFile, cert := testcerts.Server(t, "127.0.0.1", "clickhouse.test")
	addr := tlsProxy(t, cfg.Addr, cert)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	open := func(mod func(*clickhouse.Config)) error {
		c := cfg
		c.Addr, c.TLS = addr, true
		mod(&c)
		s, err := clickhouse.Open(context.Background(), c, log)
		if err == nil {
			s.Close()
		}
		return err
	}
	if err := open(func(c *clickhouse.Config) { c.TLSCAFile = caFile }); err != nil {
		t.Errorf("trusted CA: %v", err)
	}
	if err := open(func(c *clickhouse.Config) { c.TLSCAFile, c.TLSServerName = caFile, "clickhouse.test" }); err != nil {
		t.Errorf("trusted CA and server name: %v", err)
	}
	if err := open(func(c *clickhouse.Config) {}); err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Errorf("system roots must not trust the test CA: %v", err)
	}
	if err := open(func(c *clickhouse.Config) { c.TLSCAFile, c.TLSServerName = caFile, "other.test" }); err == nil ||
		!strings.Contains(err.Error(), "other.test") {
		t.Errorf("a wrong server name must fail: %v", err)
	}
	if err := open(func(c *clickhouse.Config) { c.TLSInsecureSkipVerify = true }); err != nil {
		t.Errorf("skip-verify, when asked for: %v", err)
	}
}

func TestPasswordFile(t *testing.T) {
	cfg := clickhousetest.Config(t)
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	right := filepath.Join(dir, "right")
	if err := os.WriteFile(right, []byte(cfg.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := cfg
	c.Password, c.PasswordFile = "", right
	s, err := clickhouse.Open(context.Background(), c, log)
	if err != nil {
		t.Fatalf("password from a file: %v", err)
	}
	s.Close()
	const wrong = "wrong-ch-password-2718"
	bad := filepath.Join(dir, "wrong")
	if err := os.WriteFile(bad, []byte(wrong), 0o600); err != nil {
		t.Fatal(err)
	}
	c.PasswordFile = bad
	_, err = clickhouse.Open(context.Background(), c, log)
	if err == nil {
		t.Fatal("a wrong password was accepted")
	}
	if strings.Contains(err.Error(), wrong) {
		t.Errorf("the error shows the password: %v", err)
	}
	c.Password = "x"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("password and file together: %v", err)
	}
}
