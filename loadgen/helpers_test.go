package loadgen

import (
	"testing"
	"time"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/schemas/entra"
)

// delivered is one message as a consumer sees it, decoded.
type delivered struct {
	msg     Message
	signIns []*schemas.SignIn
	flag    *schemas.Flag
}

// testConfig is a small tenant whose 20 000 sign-ins span six hours, so
// six attack periods fall in them.
func testConfig(shape Shape) Config {
	cfg := DefaultConfig()
	cfg.Shape = shape
	cfg.Count = 20_000
	cfg.Span = 6 * time.Hour
	cfg.Users = 2000
	return cfg
}

// drain runs a bounded generator to its end and decodes every message
// with the project's decoder, failing on any rejected record.
func drain(t testing.TB, cfg Config) ([]delivered, Stats) {
	t.Helper()
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out []delivered
	for {
		m, ok := g.Next()
		if !ok {
			break
		}
		d := delivered{msg: m}
		if m.Topic == TopicFlags {
			if d.flag, err = entra.DecodeFlag(m.Value); err != nil {
				t.Fatalf("flag %d does not decode: %v\n%s", len(out), err, m.Value)
			}
			out = append(out, d)
			continue
		}
		records, err := entra.DecodeSignIns(m.Value)
		if err != nil {
			t.Fatalf("message %d does not decode: %v", len(out), err)
		}
		for _, r := range records {
			if r.Err != nil {
				t.Fatalf("message %d: record rejected: %v\n%s", len(out), r.Err, r.Raw)
			}
			d.signIns = append(d.signIns, r.SignIn)
		}
		if len(d.signIns) != len(m.SignInIDs) {
			t.Fatalf("message %d: %d records decoded, %d ids announced", len(out), len(d.signIns), len(m.SignInIDs))
		}
		for i, si := range d.signIns {
			if si.ID != m.SignInIDs[i] {
				t.Fatalf("message %d record %d: id %s, announced %s", len(out), i, si.ID, m.SignInIDs[i])
			}
		}
		out = append(out, d)
		if len(out) > 10*cfg.Count+1000 {
			t.Fatal("bounded stream does not end")
		}
	}
	return out, g.Stats()
}

// firstSendings returns every sign-in once, in delivery order.
func firstSendings(ds []delivered) []*schemas.SignIn {
	var out []*schemas.SignIn
	for _, d := range ds {
		if !d.msg.Duplicate {
			out = append(out, d.signIns...)
		}
	}
	return out
}
