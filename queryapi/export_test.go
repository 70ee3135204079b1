package queryapi

import (
	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

// NewFakeStore gives the external tests (openapi_test.go) the package's
// test double, answering id lookups by id.
func NewFakeStore(signIns []schemas.SignIn, findings []schemas.Finding, flagged []sinks.FlaggedSignIn) Store {
	return &fakeReader{byID: true, signIns: signIns, findings: findings, flagged: flagged, failures: 3}
}
