package queryapi

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// maxValueLen bounds every free-text parameter (ids, UPNs, app names).
const maxValueLen = 256

// params reads and validates a query string. The first problem is kept,
// naming its parameter; handlers answer 400 with it before any query.
type params struct {
	q   url.Values
	err *Error
}

func newParams(r *http.Request, allowed ...string) *params {
	p := &params{q: r.URL.Query()}
	known := map[string]bool{}
	for _, a := range allowed {
		known[a] = true
	}
	var names []string
	for name := range p.q {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !known[name] {
			p.fail(name, fmt.Sprintf("unknown parameter %q; this endpoint takes %s", name, strings.Join(allowed, ", ")))
			return p
		}
		if len(p.q[name]) > 1 {
			p.fail(name, fmt.Sprintf("%s given %d times; give it once", name, len(p.q[name])))
			return p
		}
	}
	return p
}

func (p *params) fail(name, msg string) {
	if p.err == nil {
		p.err = &Error{Error: msg, Parameter: name}
	}
}

// ok answers 400 and returns false when a parameter was bad.
func (p *params) ok(w http.ResponseWriter) bool {
	if p.err != nil {
		writeJSON(w, http.StatusBadRequest, p.err)
		return false
	}
	return true
}

// str returns a free-text value: at most maxValueLen characters, no
// control characters.
func (p *params) str(name string) string {
	s := p.q.Get(name)
	return p.check(name, s)
}

func (p *params) check(name, s string) string {
	if len(s) > maxValueLen {
		p.fail(name, fmt.Sprintf("%s is %d bytes long; at most %d", name, len(s), maxValueLen))
		return ""
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			p.fail(name, fmt.Sprintf("%s holds a control character", name))
			return ""
		}
	}
	return s
}

var identifier = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)

// ident returns a lower-case identifier such as a scenario id.
func (p *params) ident(name string) string {
	s := p.q.Get(name)
	if s != "" && !identifier.MatchString(s) {
		p.fail(name, fmt.Sprintf("expected a lower-case identifier such as invalid_credentials, got %q", s))
		return ""
	}
	return s
}

// oneOf returns a value from allowed, or "".
func (p *params) oneOf(name string, allowed ...string) string {
	s := p.q.Get(name)
	if s == "" {
		return ""
	}
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	p.fail(name, fmt.Sprintf("expected one of %s, got %q", strings.Join(allowed, ", "), s))
	return ""
}

// limit returns a page size in [1, most], def when absent.
func (p *params) limit(def, most int) int {
	s := p.q.Get("limit")
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > most {
		p.fail("limit", fmt.Sprintf("expected a whole number from 1 to %d, got %q", most, s))
		return def
	}
	return n
}

// boolean returns nil when absent.
func (p *params) boolean(name string) *bool {
	s := p.q.Get(name)
	if s == "" {
		return nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		p.fail(name, fmt.Sprintf("expected true or false, got %q", s))
		return nil
	}
	return &b
}

// integer returns nil when absent.
func (p *params) integer(name string, least, most int) *int {
	s := p.q.Get(name)
	if s == "" {
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < least || n > most {
		p.fail(name, fmt.Sprintf("expected a whole number from %d to %d, got %q", least, most, s))
		return nil
	}
	return &n
}

// instant returns an RFC 3339 time, zero when absent.
func (p *params) instant(name string) time.Time {
	s := p.q.Get(name)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		p.fail(name, fmt.Sprintf("expected an RFC 3339 time such as 2025-03-04T09:12:31Z, got %q", s))
		return time.Time{}
	}
	return t.UTC()
}

// timeRange reads from and to: to defaults to now, from to `to` minus
// def; from must not be after to, nor more than longest before it.
func (p *params) timeRange(now time.Time, def, longest time.Duration) (from, to time.Time) {
	from, to = p.instant("from"), p.instant("to")
	if p.err != nil {
		return
	}
	if to.IsZero() {
		to = now
	}
	if from.IsZero() {
		from = to.Add(-def)
	}
	if from.After(to) {
		p.fail("from", fmt.Sprintf("from (%s) is after to (%s)", from.Format(time.RFC3339), to.Format(time.RFC3339)))
	} else if to.Sub(from) > longest {
		p.fail("from", fmt.Sprintf("the range from %s to %s is longer than %s; narrow it", from.Format(time.RFC3339), to.Format(time.RFC3339), longest))
	}
	return
}

// cursor reads an opaque position (the previous page's next).
func (p *params) cursor(name string) (flaggedCursor, bool) {
	s := p.q.Get(name)
	if s == "" {
		return flaggedCursor{}, false
	}
	c, err := parseFlaggedCursor(s)
	if err != nil || !strings.HasPrefix(s, cursorPrefix) {
		p.fail(name, fmt.Sprintf("expected the previous page's next, got %q", s))
		return flaggedCursor{}, false
	}
	return c, true
}
