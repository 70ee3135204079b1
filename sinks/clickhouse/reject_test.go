package clickhouse_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/signindiag/signindiag/sinks"
	"github.com/signindiag/signindiag/sinks/sinkstest"
)

// A sign-in dated outside what a DateTime column holds is refused as
// rejected (the batch without it can be stored), before anything of its
// batch is written; the driver alone would store 2200 as 2065.
func TestASignInOutsideTheDateTimeRangeIsRejectedAndNothingStored(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	for _, bad := range []time.Time{time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC)} {
		good := sinkstest.Record(sinkstest.SignIn("good-"+bad.Format("2006"), "u1", "u1@contoso.example", sinkstest.T0, 0), 1)
		batch := &sinks.Batch{SignIns: []sinks.SignInRecord{good, sinkstest.Record(sinkstest.SignIn("bad-"+bad.Format("2006"), "u1", "u1@contoso.example", bad, 0), 2)}}
		err := s.Write(ctx, batch)
		if !errors.Is(err, sinks.ErrRejected) || errors.Is(err, sinks.ErrPermanent) {
			t.Fatalf("%d: err = %v, want sinks.ErrRejected only", bad.Year(), err)
		}
		got, err := s.SignIns(ctx, sinks.SignInQuery{CorrelationID: good.SignIn.CorrelationID})
		if err != nil || len(got) != 0 {
			t.Fatalf("%d: the good sign-in of a rejected batch was stored: %v %v", bad.Year(), got, err)
		}
		if err := s.Write(ctx, &sinks.Batch{SignIns: batch.SignIns[:1]}); err != nil {
			t.Fatalf("%d: without the bad row: %v", bad.Year(), err)
		}
	}
}

// A write the server refuses for a reason no retry fixes (here: the tables
// are gone) must come back marked permanent, so the pipeline stops loudly
// instead of retrying the same batch for ever; and it is the schema's
// fault, not the rows', so it must not be taken for a rejection, which
// the pipeline would split into single rows.
func TestWriteErrorsRetryingCannotFixArePermanent(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	batch := &sinks.Batch{SignIns: []sinks.SignInRecord{sinkstest.Record(sinkstest.SignIn("p1", "u1", "u1@contoso.example", sinkstest.T0, 0), 1)}}
	if err := s.Write(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := s.DropTablesForTest(ctx); err != nil {
		t.Fatal(err)
	}
	err := s.Write(ctx, batch)
	if !errors.Is(err, sinks.ErrPermanent) || errors.Is(err, sinks.ErrRejected) {
		t.Fatalf("write to a missing table: err = %v, want sinks.ErrPermanent only", err)
	}
}
