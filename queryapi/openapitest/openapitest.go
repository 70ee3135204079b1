// Package openapitest holds the API's answers to its OpenAPI document
// (queryapi/openapi.json) in tests: every response a test sees through
// Transport or Check is validated against the schema of its route and
// status, and a status the document does not list fails.
package openapitest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/signindiag/signindiag/queryapi"
)

// Validator checks responses against the document.
type Validator struct {
	Doc    *openapi3.T
	router routers.Router
}

// New loads and validates the embedded document.
func New(t testing.TB) *Validator {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(queryapi.OpenAPI)
	if err != nil {
		t.Fatalf("openapi.json does not load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI 3 document: %v", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return &Validator{Doc: doc, router: router}
}

// Check validates one response to req (a /v1 route other than the
// document itself).
func (v *Validator) Check(req *http.Request, status int, header http.Header, body []byte) error {
	// The router matches on path and method; the document's server is
	// relative, so the request's host does not matter.
	r := req.Clone(context.Background())
	r.URL = &url.URL{Path: req.URL.Path, RawQuery: req.URL.RawQuery}
	r.Host = ""
	route, params, err := v.router.FindRoute(r)
	if err != nil {
		return fmt.Errorf("%s %s: no route in openapi.json: %w", req.Method, req.URL.Path, err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return fmt.Errorf("%s %s → %d does not match openapi.json: %w\nbody: %.2000s", req.Method, req.URL, status, err, body)
	}
	return nil
}

// Transport validates every /v1 response passing through base (nil:
// http.DefaultTransport); a mismatch fails t.
func (v *Validator) Transport(t testing.TB, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		resp, err := base.RoundTrip(req)
		if err != nil || !isAPI(req.URL.Path) {
			return resp, err
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close() // the body is read; nothing to do about a failed close
		if err != nil {
			return nil, err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if err := v.Check(req, resp.StatusCode, resp.Header, body); err != nil {
			t.Error(err)
		}
		return resp, nil
	})
}

func isAPI(path string) bool {
	return len(path) > 4 && path[:4] == "/v1/" && path != "/v1/openapi.json"
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
