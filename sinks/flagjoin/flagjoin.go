// Package flagjoin is the flagged queue's semantics, the same over every
// backend (sinks.Reader.Flagged): flags name sign-ins by sign-in id,
// request id or correlation id, arrive before or after them, and are
// joined at read time; each sign-in is listed once, under the latest flag
// naming it, newest flag first; a page never splits the sign-ins of one
// flag and is short only at the end of the queue. A backend provides the
// two reads (Backend); Page does the rest.
package flagjoin

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/signindiag/signindiag/schemas"
	"github.com/signindiag/signindiag/sinks"
)

// Target is what a flag points at (lower-cased keys, as stored), with the
// latest flag naming it.
type Target struct {
	SignInID, CorrelationID, RequestID string
	At                                 time.Time
	ID, By                             string
}

// After reports whether t comes after u in page order: flagged later, or
// at the same time with a greater flag id.
func (t *Target) After(u *Target) bool {
	if !t.At.Equal(u.At) {
		return t.At.After(u.At)
	}
	return t.ID > u.ID
}

// Names reports whether t names the sign-in.
func (t *Target) Names(si *schemas.SignIn) bool {
	id := strings.ToLower(si.ID)
	return (t.SignInID != "" && t.SignInID == id) || (t.RequestID != "" && t.RequestID == id) ||
		(t.CorrelationID != "" && t.CorrelationID == strings.ToLower(si.CorrelationID))
}

// Backend reads what the queue is made of.
type Backend interface {
	// Targets returns up to limit targets after the cursor (before,
	// beforeID) in page order, each only under its latest flag.
	Targets(ctx context.Context, before time.Time, beforeID string, limit int) ([]Target, error)
	// SignInsNamed returns the latest versions of the stored sign-ins
	// the targets name, at most limit.
	SignInsNamed(ctx context.Context, targets []Target, limit int) ([]schemas.SignIn, error)
	// FlagsNaming returns (at least) every flag naming one of the
	// sign-ins, by any of its keys (Keys), with its keys, time and id: a
	// sign-in named by two kinds of key (its id, its correlation id)
	// belongs under the later of their flags only.
	FlagsNaming(ctx context.Context, signIns []schemas.SignIn) ([]Target, error)
}

// MaxRounds bounds the pages of targets one request reads past flags that
// name no stored sign-in.
const MaxRounds = 20

// Page answers sinks.Reader.Flagged on a backend, limit being the page
// size the backend allows.
func Page(ctx context.Context, b Backend, q sinks.FlaggedQuery, limit int) ([]sinks.FlaggedSignIn, error) {
	before := q.Before
	if before.IsZero() {
		before = time.Now().Add(time.Hour) // a little clock skew is still "now"
	}
	beforeID := q.BeforeID
	// Flags that name no stored sign-in (yet: a flag may come first) make
	// no item: read on past them until the page is full or the flags end,
	// so a short page always means the end of the queue.
	var out []sinks.FlaggedSignIn
	listed := map[string]bool{} // sign-ins already listed under a later flag
	for round := 0; len(out) < limit && round < MaxRounds; round++ {
		targets, err := b.Targets(ctx, before, beforeID, limit)
		if err != nil {
			return nil, err
		}
		if len(targets) == 0 {
			break
		}
		// A flag by correlation id may name several sign-ins (every step
		// of an attempt): read more than a page, then cut after ordering.
		signIns, err := b.SignInsNamed(ctx, targets, 4*limit)
		if err != nil {
			return nil, err
		}
		found := underLatestFlag(signIns, targets)
		later, err := laterFlags(ctx, b, found)
		if err != nil {
			return nil, err
		}
		for _, f := range found {
			if k := f.SignIn.Identity(); !listed[k] && !later[k] {
				listed[k] = true
				out = append(out, f)
			}
		}
		if len(targets) < limit {
			break
		}
		last := targets[len(targets)-1]
		before, beforeID = last.At, last.ID
	}
	return cutPage(out, limit), nil
}

// Namer finds the flags naming some sign-ins (Backend.FlagsNaming).
type Namer interface {
	FlagsNaming(ctx context.Context, signIns []schemas.SignIn) ([]Target, error)
}

// Mark sets FlaggedForReview on the sign-ins a flag names (by sign-in id,
// request id or correlation id), whichever arrived first.
func Mark(ctx context.Context, b Namer, signIns []schemas.SignIn) error {
	if len(signIns) == 0 {
		return nil
	}
	flags, err := b.FlagsNaming(ctx, signIns)
	if err != nil {
		return err
	}
	for i := range signIns {
		for j := range flags {
			if flags[j].Names(&signIns[i]) {
				signIns[i].FlaggedForReview = true
				break
			}
		}
	}
	return nil
}

// Keys lists, once each, the lower-cased ids and correlation ids of the
// sign-ins: the keys a flag may name them by.
func Keys(signIns []schemas.SignIn) []string {
	var k KeySet
	for i := range signIns {
		k.Add(&signIns[i])
	}
	return k.Keys
}

// KeySet gathers Keys one sign-in at a time, for callers that hold the
// sign-ins in other structures (a writer's records) and should not copy
// them into a slice.
type KeySet struct {
	Keys []string
	seen map[string]bool
}

// Add adds the keys of si not added yet.
func (k *KeySet) Add(si *schemas.SignIn) {
	if k.seen == nil {
		k.seen = map[string]bool{}
	}
	for _, key := range [2]string{strings.ToLower(si.ID), strings.ToLower(si.CorrelationID)} {
		if key != "" && !k.seen[key] {
			k.seen[key] = true
			k.Keys = append(k.Keys, key)
		}
	}
}

// laterFlags names the sign-ins that a flag later than the one they were
// found under also names (by another key): they are listed under that
// one, on an earlier page.
func laterFlags(ctx context.Context, b Backend, found []sinks.FlaggedSignIn) (map[string]bool, error) {
	if len(found) == 0 {
		return nil, nil
	}
	signIns := make([]schemas.SignIn, len(found))
	for i := range found {
		signIns[i] = found[i].SignIn
	}
	flags, err := b.FlagsNaming(ctx, signIns)
	if err != nil {
		return nil, err
	}
	later := map[string]bool{}
	for _, f := range found {
		under := Target{At: f.FlaggedAt, ID: f.FlagID}
		for i := range flags {
			if flags[i].Names(&f.SignIn) && flags[i].After(&under) {
				later[f.SignIn.Identity()] = true
				break
			}
		}
	}
	return later, nil
}

// underLatestFlag pairs each sign-in with the latest of the targets
// naming it, in page order.
func underLatestFlag(signIns []schemas.SignIn, targets []Target) []sinks.FlaggedSignIn {
	var out []sinks.FlaggedSignIn
	for _, si := range signIns {
		var best *Target
		for i := range targets {
			if t := &targets[i]; t.Names(&si) && (best == nil || t.After(best)) {
				best = t
			}
		}
		if best == nil {
			continue
		}
		si.FlaggedForReview = true
		out = append(out, sinks.FlaggedSignIn{SignIn: si, FlaggedAt: best.At, FlaggedBy: best.By, FlagID: best.ID})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].FlaggedAt.Equal(out[j].FlaggedAt) {
			return out[i].FlaggedAt.After(out[j].FlaggedAt)
		}
		if out[i].FlagID != out[j].FlagID {
			return out[i].FlagID > out[j].FlagID
		}
		return out[i].SignIn.CreatedDateTime.After(out[j].SignIn.CreatedDateTime)
	})
	return out
}

// cutPage keeps limit sign-ins, and more rather than split the sign-ins
// of one flag (a flag by correlation id may name several): the next page
// starts after the last flag listed, so a split flag would lose the rest.
func cutPage(out []sinks.FlaggedSignIn, limit int) []sinks.FlaggedSignIn {
	end := min(limit, len(out))
	for end > 0 && end < len(out) && out[end].FlagID == out[end-1].FlagID && out[end].FlaggedAt.Equal(out[end-1].FlaggedAt) {
		end++
	}
	return out[:end]
}
