package sinks

import (
	"sort"

	"github.com/signindiag/signindiag/schemas"
)

// MaxRows bounds every result a store returns, whatever the caller asked
// for.
const MaxRows = 1000

// PageLimit is the rows a query that asked for n returns: n, or MaxRows
// when n is not positive or larger.
func PageLimit(n int) int {
	if n <= 0 || n > MaxRows {
		return MaxRows
	}
	return n
}

// SortFindings puts findings in the order every store returns them:
// newest first, then by scenario and id, so responses are stable.
func SortFindings(fs []schemas.Finding) {
	sort.Slice(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if !a.OccurredAt.Equal(b.OccurredAt) {
			return a.OccurredAt.After(b.OccurredAt)
		}
		if a.Scenario != b.Scenario {
			return a.Scenario < b.Scenario
		}
		return a.ID < b.ID
	})
}
