package queryapi

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/signindiag/signindiag/schemas"
)

// flaggedCursor is the position after which the next page of /v1/flagged
// starts: the last listed flag's time and id. Clients treat it as opaque.
type flaggedCursor struct {
	at time.Time
	id string
}

// cursorPrefix versions the encoding.
const cursorPrefix = "c1."

func (c flaggedCursor) String() string {
	raw := strconv.FormatInt(c.at.UnixNano(), 10) + ":" + c.id
	return cursorPrefix + base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// parseFlaggedCursor reads a cursor from String, or an RFC 3339 time (the
// `before` of earlier releases, which pages on time alone).
func parseFlaggedCursor(s string) (flaggedCursor, error) {
	if rest, ok := strings.CutPrefix(s, cursorPrefix); ok {
		raw, err := base64.RawURLEncoding.DecodeString(rest)
		if err != nil {
			return flaggedCursor{}, errors.New("malformed cursor")
		}
		nanos, id, ok := strings.Cut(string(raw), ":")
		n, err := strconv.ParseInt(nanos, 10, 64)
		if !ok || err != nil {
			return flaggedCursor{}, errors.New("malformed cursor")
		}
		return flaggedCursor{at: time.Unix(0, n).UTC(), id: id}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return flaggedCursor{}, errors.New("neither a cursor nor an RFC 3339 time")
	}
	return flaggedCursor{at: t}, nil
}

// diagnoseCursor is where the next page of /v1/diagnose starts: after
// the sign-in created in second `at` with id `id`, in the store's order
// (created second descending, then id). skip is how many sign-ins the
// next query returns before that place (the same second's earlier ids for
// a user search, which pages in time; every earlier sign-in for an id
// lookup), so it asks for skip more.
type diagnoseCursor struct {
	at   time.Time
	id   string
	skip int
}

const diagnosePrefix = "d1."

// maxDiagnoseRows is the most sign-ins one /v1/diagnose query may read
// (the store's bound).
const maxDiagnoseRows = 1000

func (c diagnoseCursor) String() string {
	raw := strconv.FormatInt(c.at.Unix(), 10) + ":" + strconv.Itoa(c.skip) + ":" + c.id
	return diagnosePrefix + base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func (p *params) diagnoseCursor() (diagnoseCursor, bool) {
	s := p.q.Get("cursor")
	if s == "" {
		return diagnoseCursor{}, false
	}
	bad := func() (diagnoseCursor, bool) {
		p.fail("cursor", fmt.Sprintf("expected the previous page's next, got %q", s))
		return diagnoseCursor{}, false
	}
	rest, ok := strings.CutPrefix(s, diagnosePrefix)
	if !ok {
		return bad()
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return bad()
	}
	parts := strings.SplitN(string(raw), ":", 3)
	if len(parts) != 3 {
		return bad()
	}
	sec, err1 := strconv.ParseInt(parts[0], 10, 64)
	skip, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil || skip < 0 || skip > maxDiagnoseRows || parts[2] == "" {
		return bad()
	}
	return diagnoseCursor{at: time.Unix(sec, 0).UTC(), id: parts[2], skip: skip}, true
}

// afterCursor keeps the sign-ins after c in the store's order.
func afterCursor(signIns []schemas.SignIn, c diagnoseCursor) []schemas.SignIn {
	var out []schemas.SignIn
	for _, si := range signIns {
		sec := si.CreatedDateTime.UTC().Truncate(time.Second)
		if sec.Before(c.at) || sec.Equal(c.at) && si.ID > c.id {
			out = append(out, si)
		}
	}
	return out
}

// nextDiagnoseCursor is the cursor after page, which followed prev.
func nextDiagnoseCursor(page []schemas.SignIn, prev diagnoseCursor, byUser bool) diagnoseCursor {
	last := page[len(page)-1]
	next := diagnoseCursor{at: last.CreatedDateTime.UTC().Truncate(time.Second), id: last.ID}
	if !byUser {
		next.skip = prev.skip + len(page)
		return next
	}
	for _, si := range page {
		if si.CreatedDateTime.UTC().Truncate(time.Second).Equal(next.at) {
			next.skip++
		}
	}
	if prev.at.Equal(next.at) {
		next.skip += prev.skip
	}
	return next
}
