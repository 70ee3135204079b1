// Package sinkstest is the conformance suite of sinks.Store: every backend
// runs it, so the query API, the spike detector and the window rebuild
// read the same results whichever backend stores them. Each test opens a
// fresh store, writes through its Writer (or Annotations) and reads back
// through the readers, with exact assertions on ids, counts and order.
//
// A backend's test calls Run with a Backend:
//
//	func TestConformance(t *testing.T) {
//		sinkstest.Run(t, sinkstest.Backend{Open: openStore, Settle: mergeEverything})
//	}
package sinkstest

import (
	"context"
	"testing"
	"time"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

// Backend is a store under test.
type Backend struct {
	// Open returns a fresh, migrated, empty store, closed when t ends.
	Open func(t *testing.T) sinks.Store
	// Settle, when set, makes the backend finish background work that
	// could change what reads see (ClickHouse: OPTIMIZE … FINAL merges),
	// so the suite proves results survive it. nil: nothing to do.
	Settle func(t *testing.T, s sinks.Store)
	// Rebuild, when set, empties the tables the backend derives from
	// others at write time and fills them again as the migration that
	// added them does, so the suite proves the backfill agrees with the
	// writer. nil: the backend derives nothing.
	Rebuild func(t *testing.T, s sinks.Store)
	// Transactional: a batch whose write fails leaves none of its rows
	// (SQLite). ClickHouse has no transactions: the tables a failed
	// batch reached keep its rows until the retry or replay completes it.
	Transactional bool
}

// test is one named conformance test.
type test struct {
	name string
	run  func(t *testing.T, b Backend)
}

// tests lists the suite; the names are the subtests' names.
var tests = []test{
	{"MigrateTwiceIsANoOp", testMigrateTwice},
	{"WriteIsIdempotentAndLookupsFindTheSignIn", testWriteIsIdempotent},
	{"LaterVersionOfASignInReplacesTheEarlier", testLaterVersionReplaces},
	{"ConcurrentWritesKeepTheirOwnErrors", testConcurrentWritesKeepTheirOwnErrors},
	{"FlagsMarkSignInsWhicheverArrivesFirst", testFlagsWhicheverFirst},
	{"FailureCountIsExactToTheMillisecond", testFailureCountExact},
	{"UserSearchReadsBackUntilAPageIsFull", testUserSearchPages},
	{"CompleteFindingOutranksALaterPartialOne", testCompleteFindingOutranksPartial},
	{"RecentFailuresRebuildsOnlyWhatWasCommitted", testRecentFailuresCommitted},
	{"RebuildStartsFromTheRecordedWatermark", testRebuildFromWatermark},
	{"IPRebuildKeepsTheCopyBeforeTheOffset", testIPRebuild},
	{"IncidentWarmSpanReachesTheFirstMemberOfOpenIncidents", testIncidentWarmSpan},
	{"FlaggedListsMostRecentlyFlaggedFirst", testFlaggedOrder},
	{"FlaggedPagesKeepFlagsOfTheSameSecond", testFlaggedSameSecond},
	{"FlaggedPagesAcrossDaysListEachTargetOnce", testFlaggedAcrossDays},
	{"FlaggedShowsTheLatestVersion", testFlaggedShowsTheLatestVersion},
	{"EvidenceSummarisesTheWindowsFailures", testEvidence},
	{"ListSignInsFiltersTheLatestVersionsAndPages", testListSignIns},
	{"ListFindingsFiltersAndPages", testListFindings},
	{"FeedbackAndAcknowledgementsRoundTrip", testFeedbackAndAcks},
	{"IncidentsLatestVersionWinsAndSupersededAreHidden", testIncidents},
	{"FailureCountsAreExactUnderReplaysAndReemissions", testFailureCounts},
	{"DropExpiredRemovesOnlyWhatIsOlderThanTheCutoff", testDropExpired},
	{"EveryQuerySurvivesReplaysReemissionsAndLateFlags", testEveryQuerySurvivesReplays},
	{"RebuiltTablesGiveTheSameAnswers", testRebuiltTablesGiveTheSameAnswers},
}

// Run runs every conformance test against b, each as a subtest on a
// fresh store.
func Run(t *testing.T, b Backend) {
	t.Helper()
	if b.Open == nil {
		t.Fatal("sinkstest: Backend.Open is nil")
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, b) })
	}
}

// settled runs check, then settles the store and runs it again: what
// reads see must not depend on the backend's background work.
func (b Backend) settled(t *testing.T, s sinks.Store, check func(t *testing.T)) {
	t.Helper()
	check(t)
	if b.Settle == nil || t.Failed() {
		return
	}
	b.Settle(t, s)
	t.Run("settled", check)
}

// T0 is the suite's reference time: a Tuesday morning in 2025.
var T0 = time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC)

// SignIn builds an interactive sign-in of user (object id) and upn to the
// Azure Portal (app-1), with correlation id "corr-"+id.
func SignIn(id, user, upn string, at time.Time, code int) schemas.SignIn {
	return schemas.SignIn{ID: id, CreatedDateTime: at, UserID: user, UserPrincipalName: upn,
		AppID: "app-1", AppDisplayName: "Azure Portal", CorrelationID: "corr-" + id,
		Status: schemas.Status{ErrorCode: code}, Category: schemas.CategoryInteractive}
}

// Record stores si from shard 0 at offset, a failure when its error code
// is not 0.
func Record(si schemas.SignIn, offset int64) sinks.SignInRecord {
	return sinks.SignInRecord{SignIn: si, IsFailure: si.Status.ErrorCode != 0, Shard: 0, Offset: offset}
}

// Finding builds the finding of scenario on si, as the diagnose stage
// writes it.
func Finding(si schemas.SignIn, scenario, severity string) schemas.Finding {
	return schemas.Finding{ID: schemas.FindingID(scenario, si.ID), SignInID: si.ID, CorrelationID: si.CorrelationID,
		UserID: si.UserID, AppID: si.AppID, AppDisplayName: si.AppDisplayName, OccurredAt: si.CreatedDateTime,
		Scenario: scenario, Severity: severity, Title: scenario, Recommendations: []string{"do"},
		ErrorCode: si.Status.ErrorCode, UserKey: si.UserKey()}
}

// write writes the batches in order, failing the test on an error.
func write(t *testing.T, s sinks.Writer, batches ...*sinks.Batch) {
	t.Helper()
	for _, b := range batches {
		if err := s.Write(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
}

// laterWrite separates two writes whose rows must be told apart as
// earlier and later: a backend may version rows by their write time.
func laterWrite() { time.Sleep(2 * time.Millisecond) }
