package rotator

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxQuoted is how many characters of a value Quote keeps: enough to
// recognise an identifier, short enough that an error stays one line.
const MaxQuoted = 64

// Quote returns s as a Go string literal fit for an error or a log line:
// every control, format (right-to-left marks) and non-printable character
// escaped, invalid UTF-8 escaped byte by byte, and anything past MaxQuoted
// characters (or 128 bytes of escaped text) cut, with the full length in
// bytes appended. Use it for every
// value of an event or a secret field that an error echoes: whoever wrote
// the value chose its bytes, and a raw newline or 3,000 characters would
// forge or drown the log line. Never pass it a secret value.
func Quote(s string) string {
	cut, n, width := 0, 0, 0
	for cut < len(s) && n < MaxQuoted {
		_, size := utf8.DecodeRuneInString(s[cut:])
		// An escaped character takes up to 10 bytes (\U0010ffff): the cut
		// bounds the quoted text's bytes as well as its characters.
		w := len(strconv.QuoteToGraphic(s[cut:cut+size])) - 2
		if width+w > maxQuotedWidth {
			break
		}
		cut, n, width = cut+size, n+1, width+w
	}
	if cut == len(s) {
		return strconv.QuoteToGraphic(s)
	}
	return fmt.Sprintf("%s... (%d bytes)", strconv.QuoteToGraphic(s[:cut]), len(s))
}

// maxQuotedWidth bounds the bytes of Quote's escaped text (invalid bytes
// and control characters escape to 4 bytes or more each).
const maxQuotedWidth = 2 * MaxQuoted

// Printable returns s as it is when it is short and made only of the
// characters of ARNs, secret names, tokens and step names (ASCII letters,
// digits and -_/:.+=@,[]), else Quote(s). Messages that always printed such
// values bare keep doing so; anything else arrives quoted and cut.
func Printable(s string) string {
	if s == "" || len(s) > MaxQuoted*2 {
		return Quote(s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '_', c == '/', c == ':', c == '.', c == '+', c == '=', c == '@', c == ',', c == '[', c == ']':
		default:
			return Quote(s)
		}
	}
	return s
}

// MaxErrorMessage bounds the text of a step's error: past it the message
// is cut (CloudWatch shows the start; the log line before it says more).
const MaxErrorMessage = 1024

// printableMessage is the last guard on a step's error text: whatever a
// driver or a strategy put into it, control and format characters and
// invalid UTF-8 leave escaped, and the text stops at MaxErrorMessage
// bytes. It runs after scrubbing, so an escaped form cannot hide a value.
func printableMessage(msg string) string {
	clean := true
	for _, c := range msg {
		if c == utf8.RuneError || !strconv.IsGraphic(c) {
			clean = false
			break
		}
	}
	if !clean {
		var b strings.Builder
		for i := 0; i < len(msg); {
			c, size := utf8.DecodeRuneInString(msg[i:])
			switch {
			case c == utf8.RuneError && size == 1:
				fmt.Fprintf(&b, `\x%02x`, msg[i])
			case strconv.IsGraphic(c):
				b.WriteString(msg[i : i+size])
			default:
				q := strconv.QuoteRuneToASCII(c)
				b.WriteString(q[1 : len(q)-1])
			}
			i += size
		}
		msg = b.String()
	}
	if len(msg) > MaxErrorMessage {
		cut := MaxErrorMessage
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + fmt.Sprintf("... (%d bytes)", len(msg))
	}
	return msg
}

// IsControlOrFormat reports whether c is a control character (C0, DEL,
// C1) or a format character (right-to-left marks and overrides, zero-width
// joiners): characters no host, user or database name needs, and that
// would rewrite a log line or the order it reads in.
func IsControlOrFormat(c rune) bool {
	return unicode.IsControl(c) || unicode.Is(unicode.Cf, c)
}
