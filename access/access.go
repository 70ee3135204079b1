// Package access guards the query API: bearer tokens with a role each
// (SIGNINDIAG_API_KEYS), compared in constant time and never logged, and
// the rule that an API without keys listens on loopback only.
package access

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// Role is what a token may do. Roles are ordered: an admin may do what a
// reader may.
type Role int

const (
	// None: no token needed (the page, /metrics, /healthz, /readyz).
	None Role = iota
	// Reader: look sign-ins, findings and flags up, give feedback (the
	// Entra diagnostic needs at least a reader role too).
	Reader
	// Admin: acknowledge flagged sign-ins, read the feedback.
	Admin
)

func (r Role) String() string {
	switch r {
	case Reader:
		return "reader"
	case Admin:
		return "admin"
	}
	return "none"
}

// minTokenLen keeps guessable tokens out.
const minTokenLen = 16

// key is one configured token. Only its SHA-256 is kept: comparing
// digests of equal length in constant time leaks neither the token nor its
// length.
type key struct {
	role   Role
	digest [sha256.Size]byte
}

// Keys are the configured tokens.
type Keys struct{ keys []key }

// ParseKeys reads a comma list of role:token pairs. Errors name the pair
// by position, never by its token.
func ParseKeys(s string) (*Keys, error) {
	k := &Keys{}
	var errs []error
	for i, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		role, token, ok := strings.Cut(pair, ":")
		if !ok {
			errs = append(errs, fmt.Errorf("pair %d: expected role:token", i+1))
			continue
		}
		var r Role
		switch strings.ToLower(strings.TrimSpace(role)) {
		case "reader":
			r = Reader
		case "admin":
			r = Admin
		default:
			errs = append(errs, fmt.Errorf("pair %d: expected the role reader or admin before the colon", i+1))
			continue
		}
		if len(token) < minTokenLen {
			errs = append(errs, fmt.Errorf("pair %d (%s): expected a token of at least %d characters", i+1, r, minTokenLen))
			continue
		}
		if strings.ContainsAny(token, " \t") {
			errs = append(errs, fmt.Errorf("pair %d (%s): a token may not contain spaces", i+1, r))
			continue
		}
		k.keys = append(k.keys, key{role: r, digest: sha256.Sum256([]byte(token))})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return k, nil
}

// Empty reports whether no token is configured.
func (k *Keys) Empty() bool { return k == nil || len(k.keys) == 0 }

// Principal is who made a request: the role of the token, and a short,
// stable label of it (a digest prefix) to tell tokens apart in stored
// feedback and acknowledgements without storing or logging the token.
type Principal struct {
	Role  Role
	Label string
}

// match finds the token's role; every configured key is compared, so the
// time taken does not depend on which one matches.
func (k *Keys) match(token string) (Principal, bool) {
	d := sha256.Sum256([]byte(token))
	var found Principal
	ok := false
	for _, key := range k.keys {
		if subtle.ConstantTimeCompare(d[:], key.digest[:]) == 1 && !ok {
			found, ok = Principal{Role: key.role, Label: key.role.String() + ":" + hex.EncodeToString(d[:4])}, true
		}
	}
	return found, ok
}

type ctxKey struct{}

// PrincipalOf returns who made the request (Admin "local" when no keys are
// configured and the server listens on loopback only).
func PrincipalOf(r *http.Request) Principal {
	p, _ := r.Context().Value(ctxKey{}).(Principal)
	return p
}

// Policy tells the role a request needs.
type Policy func(r *http.Request) Role

// Middleware lets a request through when its bearer token's role is enough
// for policy(r): 401 without a valid token, 403 with one whose role is
// not enough. With no keys configured, every request passes as a local
// admin: Listen allows that on loopback only.
func Middleware(k *Keys, policy Policy, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		need := policy(r)
		if need == None {
			next.ServeHTTP(w, r)
			return
		}
		if k.Empty() {
			next.ServeHTTP(w, withPrincipal(r, Principal{Role: Admin, Label: "local"}))
			return
		}
		token, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			deny(w, http.StatusUnauthorized, "send a token: Authorization: Bearer <token> (SIGNINDIAG_API_KEYS)")
			return
		}
		p, ok := k.match(token)
		if !ok {
			deny(w, http.StatusUnauthorized, "the token is not valid")
			return
		}
		if p.Role < need {
			deny(w, http.StatusForbidden, fmt.Sprintf("this needs the %s role; the token has the %s role", need, p.Role))
			return
		}
		next.ServeHTTP(w, withPrincipal(r, p))
	})
}

func withPrincipal(r *http.Request, p Principal) *http.Request {
	return r.WithContext(contextWith(r, p))
}

func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

func deny(w http.ResponseWriter, status int, msg string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="signindiag"`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// CheckListen returns an error when no keys are configured and addr would
// listen beyond loopback: an API without tokens must not be reachable from
// other hosts.
func CheckListen(k *Keys, addr string) error {
	if !k.Empty() {
		return nil
	}
	if IsLoopback(addr) {
		return nil
	}
	return fmt.Errorf("SIGNINDIAG_API_KEYS is empty, so the API has no access control and may listen on loopback only "+
		"(127.0.0.1:port, [::1]:port or localhost:port); SIGNINDIAG_HTTP_ADDR is %q. Set SIGNINDIAG_API_KEYS=reader:<token>,admin:<token> "+
		"or listen on loopback", addr)
}

// IsLoopback reports whether addr's host is a loopback address or
// localhost; an empty host (all interfaces) is not.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func contextWith(r *http.Request, p Principal) context.Context {
	return context.WithValue(r.Context(), ctxKey{}, p)
}
