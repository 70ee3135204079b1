package loadgen

import (
	"strconv"
	"time"
)

// Attacks come from 198.51.100.0/24, which the tenant's own traffic never
// uses: a spray's address in the lower half, a fatigue attacker's in the
// upper.
const (
	sprayerNet      = "198.51.100."
	fatigueHostBase = 128
)

const (
	sprayOffset   = 5 * time.Minute
	sprayLength   = 11 * time.Minute
	sprayMinUsers = 25
	fatigueOffset = 25 * time.Minute
	fatiguePrompt = 12
)

// scheduleAttacks puts period p's password spray and MFA-fatigue burst on
// the heap: one address failing 50126 for 25–32 distinct users over 11
// minutes, then one user denying twelve pushes a minute apart.
func (tr *traffic) scheduleAttacks(p int32) {
	base := tr.start + int64(p)*tr.burst
	app := int16(2 % len(tr.t.apps))
	victims := sprayMinUsers + tr.r.intn(8)
	chosen := make(map[int32]bool, victims)
	gap := float64(sprayLength) / float64(victims)
	for i := 0; i < victims; i++ {
		u := int32(tr.r.intn(len(tr.t.users)))
		for chosen[u] {
			u = int32(tr.r.intn(len(tr.t.users)))
		}
		chosen[u] = true
		at := base + int64(sprayOffset) + int64(float64(i)*gap) + int64(tr.r.intn(int(time.Second)))
		e := tr.newEvent(at, kindInteractive, outBadPassword, u)
		e.app, e.origin, e.period = app, fromSprayer, p
		tr.scheduled.push(e)
	}
	target := int32(tr.r.intn(len(tr.t.users)))
	for i := range fatiguePrompt {
		at := base + int64(fatigueOffset) + int64(i)*int64(time.Minute) + int64(tr.r.intn(3*int(time.Second)))
		e := tr.newEvent(at, kindInteractive, outMFADenied, target)
		e.app, e.origin, e.period = int16(3%len(tr.t.apps)), fromFatigue, p
		tr.scheduled.push(e)
	}
}

// SprayAddress is the source address of attack period p's password spray
// (periods count from Config.Start in steps of Config.BurstEvery).
func SprayAddress(p int) string { return sprayerNet + strconv.Itoa(1+p%127) }

// FatigueAddress is the source of attack period p's MFA-fatigue burst.
func FatigueAddress(p int) string { return sprayerNet + strconv.Itoa(fatigueHostBase+p%127) }
