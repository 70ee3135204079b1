package entra

import "time"

// parseTime reads the time formats Entra's exports use
// (docs/event-shapes.md#time-formats):
//
//	2019-03-12T16:02:15.5522137Z          ISO 8601, 0–9 (or more) fraction digits
//	2022-01-24T05:10:14.1875602+00:00     with an offset (+hh:mm, +hhmm or +hh)
//	2007-01-09T09:41:00                   no zone: UTC
//	2025-01-15 09:30:45.123               space instead of T
//	01/09/2007 09:41:00                   US locale, 24-hour clock
//	1/9/2007 9:41:00 AM                   US locale, 12-hour clock
//	1/9/2007 10:41:00 AM +01:00           with an offset
//	4/28/2021, 2:08:45.221 PM             portal CSV export
//
// The result is in UTC. Fields out of range (month 13, 31 February, hour
// 24, second 60, offset ±24:00 or more) are rejected, as time.Parse
// rejects them, and so are instants outside the years 1–9999 in UTC.
func parseTime(b []byte) (time.Time, bool) {
	b = trimSpace(b)
	if len(b) >= 10 && b[4] == '-' {
		return parseISOTime(b)
	}
	for _, c := range b {
		if c == '/' {
			return parseUSTime(b)
		}
		if c < '0' || c > '9' {
			break
		}
	}
	return time.Time{}, false
}

type timeScan struct {
	b []byte
	i int
}

func (s *timeScan) done() bool { return s.i >= len(s.b) }

func (s *timeScan) is(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// digits reads between least and most digits.
func (s *timeScan) digits(least, most int) (int, bool) {
	v, n := 0, 0
	for s.i < len(s.b) && n < most && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		v = v*10 + int(s.b[s.i]-'0')
		s.i++
		n++
	}
	return v, n >= least
}

// fraction reads the digits after a decimal point as nanoseconds; digits
// beyond the ninth are dropped.
func (s *timeScan) fraction() (int, bool) {
	ns, n := 0, 0
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		if n < 9 {
			ns = ns*10 + int(s.b[s.i]-'0')
		}
		s.i++
		n++
	}
	for k := n; k < 9; k++ {
		ns *= 10
	}
	return ns, n > 0
}

func (s *timeScan) spaces() {
	for s.i < len(s.b) && s.b[s.i] == ' ' {
		s.i++
	}
}

// clock reads hh:mm[:ss[.fffffff]].
func (s *timeScan) clock(maxHourDigits int) (h, m, sec, ns int, ok bool) {
	if h, ok = s.digits(1, maxHourDigits); !ok || !s.is(':') {
		return 0, 0, 0, 0, false
	}
	if m, ok = s.digits(2, 2); !ok {
		return 0, 0, 0, 0, false
	}
	if s.is(':') {
		if sec, ok = s.digits(2, 2); !ok {
			return 0, 0, 0, 0, false
		}
		if s.is('.') || s.is(',') {
			if ns, ok = s.fraction(); !ok {
				return 0, 0, 0, 0, false
			}
		}
	}
	return h, m, sec, ns, m < 60 && sec < 60
}

// zone reads Z, UTC, GMT or a numeric offset, in seconds east of UTC. No
// zone at all means UTC.
func (s *timeScan) zone() (int, bool) {
	s.spaces()
	if s.done() {
		return 0, true
	}
	switch c := s.b[s.i]; c {
	case 'Z', 'z':
		s.i++
		return 0, s.done()
	case 'U', 'G':
		rest := string(s.b[s.i:])
		return 0, rest == "UTC" || rest == "GMT"
	case '+', '-':
		s.i++
		h, ok := s.digits(2, 2)
		if !ok {
			return 0, false
		}
		m := 0
		if s.is(':') {
			if m, ok = s.digits(2, 2); !ok {
				return 0, false
			}
		} else if !s.done() {
			if m, ok = s.digits(2, 2); !ok {
				return 0, false
			}
		}
		if !s.done() || h >= 24 || m >= 60 {
			return 0, false
		}
		off := h*3600 + m*60
		if c == '-' {
			off = -off
		}
		return off, true
	}
	return 0, false
}

func parseISOTime(b []byte) (time.Time, bool) {
	s := timeScan{b: b}
	year, ok1 := s.digits(4, 4)
	ok2 := s.is('-')
	month, ok3 := s.digits(2, 2)
	ok4 := s.is('-')
	day, ok5 := s.digits(2, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5) {
		return time.Time{}, false
	}
	var h, m, sec, ns int
	if !s.done() {
		if !s.is('T') && !s.is('t') && !s.is(' ') {
			return time.Time{}, false
		}
		var ok bool
		if h, m, sec, ns, ok = s.clock(2); !ok {
			return time.Time{}, false
		}
	}
	off, ok := s.zone()
	if !ok {
		return time.Time{}, false
	}
	return makeTime(year, month, day, h, m, sec, ns, off)
}

func parseUSTime(b []byte) (time.Time, bool) {
	s := timeScan{b: b}
	month, ok1 := s.digits(1, 2)
	ok2 := s.is('/')
	day, ok3 := s.digits(1, 2)
	ok4 := s.is('/')
	year, ok5 := s.digits(4, 4)
	if !(ok1 && ok2 && ok3 && ok4 && ok5) {
		return time.Time{}, false
	}
	var h, m, sec, ns int
	if !s.done() {
		s.is(',')
		s.spaces()
		var ok bool
		if h, m, sec, ns, ok = s.clock(2); !ok {
			return time.Time{}, false
		}
		s.spaces()
		if s.i+1 < len(s.b) && (s.b[s.i+1] == 'M' || s.b[s.i+1] == 'm') {
			pm := false
			switch s.b[s.i] {
			case 'A', 'a':
			case 'P', 'p':
				pm = true
			default:
				return time.Time{}, false
			}
			s.i += 2
			if h < 1 || h > 12 {
				return time.Time{}, false
			}
			if h == 12 {
				h = 0
			}
			if pm {
				h += 12
			}
		}
	}
	off, ok := s.zone()
	if !ok {
		return time.Time{}, false
	}
	return makeTime(year, month, day, h, m, sec, ns, off)
}

func makeTime(year, month, day, h, m, sec, ns, off int) (time.Time, bool) {
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || h > 23 || m > 59 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, h, m, sec, ns, time.UTC)
	if off != 0 {
		t = t.Add(-time.Duration(off) * time.Second)
	}
	// An offset can move the instant out of the years JSON can carry
	// (time.Time.MarshalJSON fails outside 0–9999), and year 0 is not a
	// sign-in's.
	if y := t.Year(); y < 1 || y > 9999 {
		return time.Time{}, false
	}
	return t, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
