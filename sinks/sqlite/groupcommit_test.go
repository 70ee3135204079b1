package sqlite_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/signindiag/signindiag/sinks"
)

// Batches written at the same time share transactions, yet each is stored
// whole or not at all and gets its own error: a batch with a row that
// cannot be stored fails alone, and none of its rows remain.
func TestConcurrentBatchesAreEachAllOrNothing(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	const writers = 8
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b sinks.Batch
			for i := range 50 {
				si := signIn(fmt.Sprintf("G%d-%d", w, i), fmt.Sprintf("user-%d", w), "", t0.Add(time.Duration(i)*time.Second), 50126)
				b.SignIns = append(b.SignIns, record(si, int64(i)))
			}
			if w == 3 { // an incident whose details are not JSON
				b.Incidents = []sinks.IncidentRecord{{ID: "bad", Detection: "mfa_fatigue", Key: "user-3", Start: t0, First: t0, Last: t0,
					Count: 1, Details: json.RawMessage("{not json")}}
			}
			errs[w] = s.Write(ctx, &b)
		}()
	}
	wg.Wait()
	for w, err := range errs {
		got, rerr := s.SignIns(ctx, sinks.SignInQuery{User: fmt.Sprintf("user-%d", w), From: t0, To: t0.Add(time.Hour), Limit: 100})
		if rerr != nil {
			t.Fatal(rerr)
		}
		if w == 3 {
			if !errors.Is(err, sinks.ErrRejected) || len(got) != 0 {
				t.Errorf("bad batch: err %v, %d sign-ins stored; want ErrRejected and none", err, len(got))
			}
			continue
		}
		if err != nil || len(got) != 50 {
			t.Errorf("batch %d: err %v, %d sign-ins stored; want all 50", w, err, len(got))
		}
	}
}
