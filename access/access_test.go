package access

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const (
	readerToken = "reader-token-0123456789"
	adminToken  = "admin-token-0123456789ab"
)

func TestParseKeysRejectsBadPairsWithoutEchoingTokens(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"reader", "pair 1: expected role:token"},
		{"owner:" + adminToken, "pair 1: expected the role reader or admin"},
		{"reader:" + readerToken + ",admin:short", "pair 2 (admin): expected a token of at least 16"},
		{"admin:has a space in it 0123", "may not contain spaces"},
	} {
		_, err := ParseKeys(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.in, err, c.want)
			continue
		}
		_, tok, _ := strings.Cut(c.in, ":")
		if tok != "" && strings.Contains(err.Error(), tok) {
			t.Errorf("%q: the error shows the token: %v", c.in, err)
		}
	}
	k, err := ParseKeys(" reader:" + readerToken + " , ADMIN:" + adminToken + ",")
	if err != nil || len(k.keys) != 2 {
		t.Fatalf("valid keys: %v %+v", err, k)
	}
	if k, err := ParseKeys(""); err != nil || !k.Empty() {
		t.Fatalf("no keys: %v", err)
	}
}

func TestMiddlewareAnswers401And403(t *testing.T) {
	k, err := ParseKeys("reader:" + readerToken + ",admin:" + adminToken)
	if err != nil {
		t.Fatal(err)
	}
	var seen Principal
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = PrincipalOf(r)
		w.WriteHeader(http.StatusNoContent)
	})
	policy := func(r *http.Request) Role {
		switch r.URL.Path {
		case "/open":
			return None
		case "/admin":
			return Admin
		}
		return Reader
	}
	h := Middleware(k, policy, next)
	for _, c := range []struct {
		path, auth string
		want       int
		role       Role
	}{
		{"/open", "", http.StatusNoContent, None},
		{"/read", "", http.StatusUnauthorized, None},
		{"/read", "Basic " + readerToken, http.StatusUnauthorized, None},
		{"/read", "Bearer not-a-valid-token-at-all", http.StatusUnauthorized, None},
		{"/read", "Bearer " + readerToken, http.StatusNoContent, Reader},
		{"/read", "bearer  " + adminToken, http.StatusNoContent, Admin},
		{"/admin", "Bearer " + readerToken, http.StatusForbidden, None},
		{"/admin", "Bearer " + adminToken, http.StatusNoContent, Admin},
	} {
		seen = Principal{}
		req := httptest.NewRequest(http.MethodGet, c.path, nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.want || seen.Role != c.role {
			t.Errorf("%s %q: %d (role %s), want %d (role %s)", c.path, c.auth, rec.Code, seen.Role, c.want, c.role)
		}
		if rec.Code == http.StatusUnauthorized && rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s %q: 401 without WWW-Authenticate", c.path, c.auth)
		}
		if rec.Code >= 400 && (!strings.Contains(rec.Body.String(), `"error"`) || strings.Contains(rec.Body.String(), readerToken)) {
			t.Errorf("%s: body %s", c.path, rec.Body)
		}
		if seen.Label != "" && (strings.Contains(seen.Label, readerToken) || strings.Contains(seen.Label, adminToken)) {
			t.Errorf("label %q holds the token", seen.Label)
		}
	}
	// Without keys every request passes as a local admin.
	rec := httptest.NewRecorder()
	Middleware(nil, policy, next).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/admin", nil))
	if rec.Code != http.StatusNoContent || seen.Role != Admin || seen.Label != "local" {
		t.Errorf("no keys: %d %+v", rec.Code, seen)
	}
}

func TestCheckListenAllowsOnlyLoopbackWithoutKeys(t *testing.T) {
	keys, _ := ParseKeys("reader:" + readerToken)
	for addr, ok := range map[string]bool{
		"127.0.0.1:8080": true, "[::1]:8080": true, "localhost:8080": true, "127.0.0.2:80": true,
		":8080": false, "0.0.0.0:8080": false, "[::]:8080": false, "192.0.2.10:8080": false, "example.com:8080": false,
	} {
		err := CheckListen(nil, addr)
		if (err == nil) != ok {
			t.Errorf("%s without keys: %v", addr, err)
		}
		if err != nil && !strings.Contains(err.Error(), "SIGNINDIAG_API_KEYS") {
			t.Errorf("%s: the error does not say what to set: %v", addr, err)
		}
		if err := CheckListen(keys, addr); err != nil {
			t.Errorf("%s with keys: %v", addr, err)
		}
	}
}
