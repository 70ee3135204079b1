package main

import (
	"flag"
	"time"

	"github.com/signindiag/signindiag/loadgen"
)

// demoOptions size the demo's traffic.
type demoOptions struct {
	signIns int
	seed    int64
}

func (d *demoOptions) register(fs *flag.FlagSet) {
	fs.IntVar(&d.signIns, "signins", 30000, "sign-ins to generate (a mid-sized tenant's last 12 hours, with a password spray and an MFA-fatigue burst every hour)")
	fs.Int64Var(&d.seed, "seed", 0, "seed of the traffic (0: a new one each start, so a restart adds new sign-ins beside the stored ones)")
}

// demoSpan is the event time the demo's traffic covers, ending now: recent
// enough that every sign-in is within the accepted age.
const demoSpan = 12 * time.Hour

// traffic is the generator's configuration: the defaults' realistic mix
// and delivery faults (late, duplicated, flagged), in the last demoSpan.
func (d *demoOptions) traffic(now time.Time) *loadgen.Config {
	cfg := loadgen.DefaultConfig()
	cfg.Seed = d.seed
	if cfg.Seed == 0 {
		cfg.Seed = now.UnixNano()
	}
	cfg.Count = d.signIns
	cfg.Users = 2000
	cfg.Span = demoSpan
	// The last delivered sign-ins are up to MaxLateness late: end the
	// stream that much before now, so none is from the future.
	cfg.Start = now.Add(-demoSpan - cfg.MaxLateness).Truncate(time.Second)
	return &cfg
}
