package clickhouse

import (
	"errors"
	"fmt"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"

	"github.com/signindiag/signindiag/sinks"
)

func TestClassifySeparatesSchemaRowAndTransientErrors(t *testing.T) {
	for _, c := range []struct {
		name                string
		err                 error
		permanent, rejected bool
	}{
		{"missing table", classify(&ch.Exception{Code: 60, Message: "Table db.signins doesn't exist"}), true, false},
		{"wrong password", classify(&ch.Exception{Code: 516}), true, false},
		{"value out of range", classify(&ch.Exception{Code: 321, Message: "Value is out of range"}), false, true},
		{"cannot parse", classify(fmt.Errorf("insert: %w", &ch.Exception{Code: 6})), false, true},
		{"too many parts", classify(&ch.Exception{Code: 252}), false, false},
		{"connection refused", classify(errors.New("dial tcp 127.0.0.1:9000: connection refused")), false, false},
		{"a Go type the column cannot take", classifyAppend(&proto.BlockError{Op: "AppendRow", ColumnName: "shard",
			Err: &column.ColumnConverterError{Op: "Append", To: "UInt16", From: "string"}}), true, false},
		{"a wrong number of values", classifyAppend(&proto.BlockError{Op: "Append", Err: errors.New("expected 20 arguments, got 19")}), true, false},
		{"a value the column refuses", classifyAppend(&proto.BlockError{Op: "AppendRow", ColumnName: "doc", Err: errors.New("bad value")}), false, true},
		{"a sign-in that does not encode", classifyAppend(errors.New("encode sign-in s1: bad")), false, true},
	} {
		if got := errors.Is(c.err, sinks.ErrPermanent); got != c.permanent {
			t.Errorf("%s: permanent = %v, want %v (%v)", c.name, got, c.permanent, c.err)
		}
		if got := errors.Is(c.err, sinks.ErrRejected); got != c.rejected {
			t.Errorf("%s: rejected = %v, want %v (%v)", c.name, got, c.rejected, c.err)
		}
	}
}

func TestDateTimeRangeIsThatOfAUInt32OfSeconds(t *testing.T) {
	last := time.Date(2106, 2, 7, 6, 28, 15, 0, time.UTC)
	for _, c := range []struct {
		at time.Time
		ok bool
	}{
		{time.Time{}, true}, // stored as the epoch, as before
		{time.Unix(0, 0), true},
		{last, true},
		{last.Add(time.Second), false},
		{time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{time.Unix(-1, 0), false},
		{time.Date(1950, 6, 1, 0, 0, 0, 0, time.UTC), false},
		{time.Date(2025, 3, 4, 9, 0, 0, 0, time.FixedZone("CET", 3600)), true},
	} {
		err := checkDateTime("sign-in", "s1", "created_at", c.at)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, sinks.ErrRejected)) {
			t.Errorf("%v: err = %v, want ok=%v", c.at, err, c.ok)
		}
	}
}
