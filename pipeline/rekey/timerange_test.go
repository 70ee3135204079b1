package rekey

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/signindiag/signindiag/pipeline/deadletter"
	"github.com/signindiag/signindiag/pipeline/source"
)

func TestRekeyDeadLettersSignInsOutsideTheTimeBounds(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	c := cfg
	c.Time = TimeBounds{MaxEventAge: 30 * 24 * time.Hour, MaxClockSkew: 15 * time.Minute, Now: func() time.Time { return now }}
	out, counted := &recordingProducer{}, reasons{}
	p := NewProcessor(c, out, counted)
	signIn := func(id string, at time.Time) string {
		return fmt.Sprintf(`{"category":"SignInLogs","properties":{"id":%q,"createdDateTime":%q,"userId":"U1"}}`, id, at.Format(time.RFC3339))
	}
	batch := `{"records":[` + strings.Join([]string{
		signIn("too-old", now.Add(-30*24*time.Hour-time.Second)),
		signIn("oldest-accepted", now.Add(-30*24*time.Hour)),
		signIn("now", now),
		signIn("latest-accepted", now.Add(15*time.Minute)),
		signIn("too-new", now.Add(15*time.Minute+time.Second)),
		signIn("year-2099", time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)),
	}, ",") + `]}`
	ctx := context.Background()
	if err := p.Process(ctx, source.Record{Topic: "in", Offset: 1, Value: []byte(batch)}); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var keyed int
	var dead []string
	for _, m := range out.written {
		switch m.Topic {
		case "keyed":
			keyed++
		case "dlq":
			if r := deadletter.Header(m, deadletter.HeaderReason); r != ReasonTimeOutOfRange {
				t.Errorf("dead letter reason %q, want %q", r, ReasonTimeOutOfRange)
			}
			dead = append(dead, string(m.Value))
		}
	}
	if keyed != 3 || len(dead) != 3 {
		t.Fatalf("keyed %d, dead-lettered %d; want 3 and 3", keyed, len(dead))
	}
	for i, id := range []string{"too-old", "too-new", "year-2099"} {
		if !strings.Contains(dead[i], id) {
			t.Errorf("dead letter %d is %s, want the record %s", i, dead[i], id)
		}
	}
	if counted[ReasonTimeOutOfRange] != 3 {
		t.Errorf("counted %v, want 3 %s", counted, ReasonTimeOutOfRange)
	}
}

func TestZeroTimeBoundsAcceptEveryTime(t *testing.T) {
	var b TimeBounds
	for _, at := range []time.Time{time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if err := b.check(at); err != nil {
			t.Errorf("%s: %v", at, err)
		}
	}
	onlyAge := TimeBounds{MaxEventAge: time.Hour, Now: func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }}
	if err := onlyAge.check(time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Errorf("no skew bound, future time: %v", err)
	}
	if err := onlyAge.check(time.Date(2025, 12, 31, 22, 0, 0, 0, time.UTC)); err == nil {
		t.Error("two hours old with a one-hour bound: accepted")
	}
}
