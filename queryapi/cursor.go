package queryapi

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
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
