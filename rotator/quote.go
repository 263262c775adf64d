package rotator

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// MaxQuoted is how many characters of a value Quote keeps: enough to
// recognise an identifier, short enough that an error stays one line.
const MaxQuoted = 64

// Quote returns s as a Go string literal fit for an error or a log line:
// every control, format (right-to-left marks) and non-printable character
// escaped, invalid UTF-8 escaped byte by byte, and anything past MaxQuoted
// characters cut, with the full length in bytes appended. Use it for every
// value of an event or a secret field that an error echoes: whoever wrote
// the value chose its bytes, and a raw newline or 3,000 characters would
// forge or drown the log line. Never pass it a secret value.
func Quote(s string) string {
	if utf8.RuneCountInString(s) <= MaxQuoted {
		return strconv.QuoteToGraphic(s)
	}
	cut, n := 0, 0
	for cut < len(s) && n < MaxQuoted {
		_, size := utf8.DecodeRuneInString(s[cut:])
		cut += size
		n++
	}
	return fmt.Sprintf("%s... (%d bytes)", strconv.QuoteToGraphic(s[:cut]), len(s))
}

// Printable returns s as it is when it is short and made only of the
// characters of ARNs, secret names, tokens and step names (ASCII letters,
// digits and -_/:.+=@,), else Quote(s). Messages that always printed such
// values bare keep doing so; anything else arrives quoted and cut.
func Printable(s string) string {
	if s == "" || len(s) > MaxQuoted*4 {
		return Quote(s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '_', c == '/', c == ':', c == '.', c == '+', c == '=', c == '@', c == ',':
		default:
			return Quote(s)
		}
	}
	return s
}
