package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
)

func TestAPIConfigNamesTheVariableAndNeverTheToken(t *testing.T) {
	const token = "secret-token-0123456789"
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"SIGNINDIAG_API_KEYS": "owner:" + token}, "SIGNINDIAG_API_KEYS: expected a comma list of role:token"},
		{map[string]string{"SIGNINDIAG_API_KEYS": "reader:short"}, "at least 16 characters"},
		{map[string]string{"SIGNINDIAG_API_MAX_CONCURRENT": "0"}, "SIGNINDIAG_API_MAX_CONCURRENT: expected a whole number from 1"},
		{map[string]string{"SIGNINDIAG_API_QUERY_TIMEOUT": "70s"}, "SIGNINDIAG_HTTP_WRITE_TIMEOUT: expected more than SIGNINDIAG_API_QUERY_TIMEOUT"},
		{map[string]string{"SIGNINDIAG_HTTP_READ_TIMEOUT": "soon"}, "SIGNINDIAG_HTTP_READ_TIMEOUT: expected a Go duration"},
		{map[string]string{"SIGNINDIAG_HTTP_TLS_CERT_FILE": "/etc/hostname"}, "set both SIGNINDIAG_HTTP_TLS_CERT_FILE and SIGNINDIAG_HTTP_TLS_KEY_FILE"},
		{map[string]string{"SIGNINDIAG_HTTP_TLS_CERT_FILE": "/nonexistent/c.pem", "SIGNINDIAG_HTTP_TLS_KEY_FILE": "/nonexistent/k.pem"}, "SIGNINDIAG_HTTP_TLS_CERT_FILE: cannot read"},
		{map[string]string{"SIGNINDIAG_API_MAX_RANGE": "10m"}, "SIGNINDIAG_API_MAX_RANGE: expected a duration of at least 1h"},
	} {
		_, err := loadConfig(context.Background(), envconfig.MapLookuper(c.env), false)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("env %v: err = %v, want %q", c.env, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), token) {
			t.Errorf("env %v: the error shows the token: %v", c.env, err)
		}
	}
	cfg, err := loadConfig(context.Background(), envconfig.MapLookuper(map[string]string{
		"SIGNINDIAG_API_KEYS": "reader:" + token}), false)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.API.MaxConcurrent != 16 || cfg.HTTP.WriteTimeout <= cfg.API.QueryTimeout || cfg.HTTPAddr != "127.0.0.1:8080" {
		t.Errorf("defaults: %+v %+v %s", cfg.API, cfg.HTTP, cfg.HTTPAddr)
	}
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg.API)} {
		if strings.Contains(s, token) {
			t.Errorf("a printed configuration shows the token: %s", s)
		}
	}
}

// TestProfileOutlivesTheWriteTimeout: with PPROF on, a CPU profile longer
// than the write timeout is still served (the benchmark profiles whole runs).
func TestProfileOutlivesTheWriteTimeout(t *testing.T) {
	srv := httptest.NewUnstartedServer(longWrite(pprof.Profile))
	srv.Config.WriteTimeout = 500 * time.Millisecond
	srv.Start()
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/debug/pprof/profile?seconds=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || err != nil || len(body) == 0 {
		t.Fatalf("profile: %d %v %q", resp.StatusCode, err, body[:min(len(body), 200)])
	}
}
