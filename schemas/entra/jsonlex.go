package entra

import (
	"encoding/binary"
	"fmt"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// lexer is a single-pass JSON reader over one message. The decoders walk the
// document with it and map members onto the model as they meet them, so a
// value is read once, duplicate keys resolve to the last one, and every
// element of a batch has an exact byte span (its raw bytes for the
// dead-letter topic).
//
// It accepts exactly the documents encoding/json accepts (RFC 8259; invalid
// UTF-8 inside strings is replaced by U+FFFD, as encoding/json does). The
// first syntax error is sticky: it moves the position to the end, so every
// loop stops, and the message is reported as invalid_json.
type lexer struct {
	data []byte
	pos  int
	err  error
	// buf holds the unescaped text of the last string that had escapes;
	// it is valid until the next string is read.
	buf []byte
	// stack holds the open containers while skip walks a value.
	stack []byte
	// depth counts the containers open outside skip.
	depth int
}

// maxDepth bounds nesting as encoding/json does.
const maxDepth = 10000

type syntaxError struct {
	msg string
	off int
}

func (e *syntaxError) Error() string { return fmt.Sprintf("%s at offset %d", e.msg, e.off) }

func (l *lexer) reset(data []byte) {
	l.data, l.pos, l.err, l.depth = data, 0, nil, 0
}

// open enters a container; like encoding/json, at most maxDepth may be
// open at once.
func (l *lexer) open() bool {
	l.pos++
	l.depth++
	if l.depth > maxDepth {
		l.fail("exceeded max depth")
		return false
	}
	return true
}

func (l *lexer) fail(msg string) {
	if l.err == nil {
		l.err = &syntaxError{msg: msg, off: l.pos}
	}
	l.pos = len(l.data)
}

// ws skips white space.
func (l *lexer) ws() {
	for l.pos < len(l.data) {
		switch l.data[l.pos] {
		case ' ', '\n', '\r', '\t':
			l.pos++
		default:
			return
		}
	}
}

// peek skips white space and returns the next byte, 0 at the end.
func (l *lexer) peek() byte {
	if l.pos < len(l.data) {
		if c := l.data[l.pos]; c > ' ' {
			return c
		}
		l.ws()
		if l.pos < len(l.data) {
			return l.data[l.pos]
		}
	}
	return 0
}

// end checks that nothing but white space follows the top-level value.
func (l *lexer) end() {
	if l.err != nil {
		return
	}
	l.ws()
	if l.pos < len(l.data) {
		l.fail("invalid character after top-level value")
	}
}

// beginObject consumes '{' (peek returned it) and reports whether a member
// follows.
func (l *lexer) beginObject() bool {
	if !l.open() {
		return false
	}
	if l.peek() == '}' {
		l.pos++
		l.depth--
		return false
	}
	return l.err == nil
}

// nextMember consumes the ',' before another member, or the closing '}'.
func (l *lexer) nextMember() bool {
	switch l.peek() {
	case ',':
		l.pos++
		return true
	case '}':
		l.pos++
		l.depth--
		return false
	}
	l.fail("expected ',' or '}' after object member")
	return false
}

// beginArray consumes '[' (peek returned it) and reports whether an element
// follows.
func (l *lexer) beginArray() bool {
	if !l.open() {
		return false
	}
	if l.peek() == ']' {
		l.pos++
		l.depth--
		return false
	}
	return l.err == nil
}

// nextElement consumes the ',' before another element, or the closing ']'.
func (l *lexer) nextElement() bool {
	switch l.peek() {
	case ',':
		l.pos++
		return true
	case ']':
		l.pos++
		l.depth--
		return false
	}
	l.fail("expected ',' or ']' after array element")
	return false
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// plain8 reports whether none of 8 bytes needs attention inside a string:
// no quote, backslash, control character or non-ASCII byte. A byte that
// does sets its high bit in one of the terms (a borrow can only add false
// alarms above a byte that is itself special).
func plain8(x uint64) bool {
	t := (x ^ (lsb * '"')) - lsb
	t |= (x ^ (lsb * '\\')) - lsb
	t |= x - lsb*0x20
	t |= x
	return t&msb == 0
}

// str reads a string (peek returned '"') and returns its unescaped bytes:
// a slice of the input when it has no escapes, else of l.buf.
func (l *lexer) str() []byte {
	data := l.data
	start := l.pos + 1
	i := start
	for {
		for i+8 <= len(data) && plain8(binary.LittleEndian.Uint64(data[i:])) {
			i += 8
		}
		if i >= len(data) {
			l.pos = i
			l.fail("unterminated string")
			return nil
		}
		c := data[i]
		switch {
		case c == '"':
			l.pos = i + 1
			return data[start:i]
		case c == '\\' || c < 0x20:
			return l.strSlow(start, i)
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				return l.strSlow(start, i)
			}
			i += size
		}
	}
}

func (l *lexer) strSlow(start, i int) []byte {
	data := l.data
	b := append(l.buf[:0], data[start:i]...)
	for i < len(data) {
		c := data[i]
		switch {
		case c == '"':
			l.pos = i + 1
			l.buf = b
			return b
		case c == '\\':
			if i+1 >= len(data) {
				l.pos = i
				l.fail("unterminated string")
				return nil
			}
			switch e := data[i+1]; e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r := hex4(data, i+2)
				if r < 0 {
					l.pos = i
					l.fail("invalid \\u escape in string")
					return nil
				}
				i += 6
				if utf16.IsSurrogate(r) {
					if i+1 < len(data) && data[i] == '\\' && data[i+1] == 'u' {
						if r2 := hex4(data, i+2); r2 >= 0 {
							if dec := utf16.DecodeRune(r, r2); dec != unicode.ReplacementChar {
								b = utf8.AppendRune(b, dec)
								i += 6
								continue
							}
						}
					}
					r = unicode.ReplacementChar
				}
				b = utf8.AppendRune(b, r)
				continue
			default:
				l.pos = i
				l.fail("invalid escape in string")
				return nil
			}
			i += 2
		case c < 0x20:
			l.pos = i
			l.fail("control character in string")
			return nil
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				b = utf8.AppendRune(b, utf8.RuneError)
			} else {
				b = append(b, data[i:i+size]...)
			}
			i += size
		}
	}
	l.pos = i
	l.fail("unterminated string")
	return nil
}

// hex4 decodes the 4 hex digits at data[i:], or returns -1.
func hex4(data []byte, i int) rune {
	if i+4 > len(data) {
		return -1
	}
	var r rune
	for _, c := range data[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// skipStr skips a string (peek returned '"') without unescaping it.
func (l *lexer) skipStr() {
	data := l.data
	i := l.pos + 1
	for {
		for i+8 <= len(data) && plain8(binary.LittleEndian.Uint64(data[i:])) {
			i += 8
		}
		if i >= len(data) {
			l.pos = i
			l.fail("unterminated string")
			return
		}
		switch c := data[i]; {
		case c == '"':
			l.pos = i + 1
			return
		case c == '\\':
			if i+1 >= len(data) {
				l.pos = i
				l.fail("unterminated string")
				return
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if hex4(data, i+2) < 0 {
					l.pos = i
					l.fail("invalid \\u escape in string")
					return
				}
				i += 6
			default:
				l.pos = i
				l.fail("invalid escape in string")
				return
			}
		case c < 0x20:
			l.pos = i
			l.fail("control character in string")
			return
		default:
			i++
		}
	}
}

// number reads a number (peek returned '-' or a digit) and returns its text.
func (l *lexer) number() []byte {
	data := l.data
	start := l.pos
	i := start
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && '1' <= data[i] && data[i] <= '9':
		for i < len(data) && '0' <= data[i] && data[i] <= '9' {
			i++
		}
	default:
		l.pos = i
		l.fail("invalid number")
		return nil
	}
	if i < len(data) && data[i] == '.' {
		i++
		if i >= len(data) || data[i] < '0' || data[i] > '9' {
			l.pos = i
			l.fail("invalid number")
			return nil
		}
		for i < len(data) && '0' <= data[i] && data[i] <= '9' {
			i++
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) || data[i] < '0' || data[i] > '9' {
			l.pos = i
			l.fail("invalid number")
			return nil
		}
		for i < len(data) && '0' <= data[i] && data[i] <= '9' {
			i++
		}
	}
	l.pos = i
	return data[start:i]
}

// literal reads true, false or null (peek returned its first letter) and
// returns that letter.
func (l *lexer) literal() byte {
	var want string
	switch c := l.data[l.pos]; c {
	case 't':
		want = "true"
	case 'f':
		want = "false"
	default:
		want = "null"
	}
	if len(l.data)-l.pos < len(want) || string(l.data[l.pos:l.pos+len(want)]) != want {
		l.fail("invalid literal")
		return 0
	}
	l.pos += len(want)
	return want[0]
}

// skip skips one value of any kind, checking its syntax. It does not
// recurse, so hostile nesting cannot exhaust the stack.
func (l *lexer) skip() {
	base := len(l.stack)
	for l.err == nil {
		// One value.
		switch c := l.peek(); {
		case c == '{' || c == '[':
			if l.depth+len(l.stack)-base >= maxDepth {
				l.fail("exceeded max depth")
				break
			}
			l.pos++
			closer := byte('}')
			if c == '[' {
				closer = ']'
			}
			if l.peek() == closer {
				l.pos++
				break
			}
			l.stack = append(l.stack, closer)
			if c == '{' {
				l.skipKey()
			}
			continue
		case c == '"':
			l.skipStr()
		case c == 't' || c == 'f' || c == 'n':
			l.literal()
		case c == '-' || ('0' <= c && c <= '9'):
			l.number()
		default:
			l.fail("invalid character looking for beginning of value")
		}
		// The value is complete: close what it completes.
	closing:
		for l.err == nil {
			if len(l.stack) == base {
				return
			}
			top := l.stack[len(l.stack)-1]
			switch l.peek() {
			case ',':
				l.pos++
				if top == '}' {
					l.skipKey()
				}
				break closing
			case top:
				l.pos++
				l.stack = l.stack[:len(l.stack)-1]
			default:
				l.fail("expected ',' or end of container")
			}
		}
	}
	l.stack = l.stack[:base]
}

func (l *lexer) skipKey() {
	if l.peek() != '"' {
		l.fail("expected string for object key")
		return
	}
	l.skipStr()
	if l.peek() != ':' {
		l.fail("expected ':' after object key")
		return
	}
	l.pos++
}
