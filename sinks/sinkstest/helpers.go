package sinkstest

import (
	"strings"

	"github.com/signindiag/signindiag/schemas"
)

// order names the sign-ins in the order given, comma-separated.
func order(signIns []schemas.SignIn) string {
	out := make([]string, 0, len(signIns))
	for _, s := range signIns {
		out = append(out, s.ID)
	}
	return strings.Join(out, ",")
}

// flaggedIDs names the sign-ins marked FlaggedForReview, in the order given.
func flaggedIDs(signIns []schemas.SignIn) string {
	var out []string
	for _, s := range signIns {
		if s.FlaggedForReview {
			out = append(out, s.ID)
		}
	}
	return strings.Join(out, ",")
}

// findingSignIns names the sign-ins of the findings, in the order given.
func findingSignIns(fs []schemas.Finding) string {
	out := make([]string, 0, len(fs))
	for _, f := range fs {
		out = append(out, f.SignInID)
	}
	return strings.Join(out, ",")
}

func join(s []string) string { return strings.Join(s, ",") }
