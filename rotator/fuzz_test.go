package rotator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// The fuzz targets of this package. `make test` runs each on its seeds
// (testdata/fuzz/<name>/ and the f.Add calls); `make fuzz` explores for
// FUZZTIME each. Every target checks properties, not only that nothing
// panics.

// assertPrintable fails when text is not valid UTF-8 or holds a control
// or format character: what an error or a log line must never carry.
func assertPrintable(t *testing.T, what, text string) {
	t.Helper()
	if !utf8.ValidString(text) {
		t.Fatalf("%s is not valid UTF-8: %q", what, text)
	}
	for _, c := range text {
		if IsControlOrFormat(c) {
			t.Fatalf("%s holds %U: %q", what, c, text)
		}
	}
}

var parseSecretError = regexp.MustCompile(`^malformed secret value: (not valid JSON \(syntax error at byte \d+\)|not a JSON object|trailing data after the JSON object)$`)

// FuzzParseSecret: ParseSecret never panics; its error is one of three
// fixed texts (it never quotes the input, which may be a password); a
// parsed secret writes out to JSON that parses back to the same fields
// with the same values; every accessor answers without panicking, and a
// failing one names its field.
func FuzzParseSecret(f *testing.F) {
	for _, s := range []string{
		`{"engine":"postgres","host":"db","port":5432,"username":"app","password":"pw","dbname":"app"}`,
		`{"port":"5432","ssl":"true","extra":{"nested":[1,2,{"x":null}]}}`,
		`{"username":"a\u0000b","password":"\ud800"}`,
		`[1]`, `null`, `{} {}`, `{"a":1,"a":2}`, `{"a":` + strings.Repeat("[", 10001),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseSecret(in)
		if err != nil {
			if !errors.Is(err, ErrMalformedSecret) || !parseSecretError.MatchString(err.Error()) {
				t.Fatalf("unexpected error %q", err)
			}
			return
		}
		out, err := s.Value()
		if err != nil {
			t.Fatalf("Value: %v", err)
		}
		back, err := ParseSecret(out)
		if err != nil {
			t.Fatalf("the written value does not parse: %v", err)
		}
		if a, b := strings.Join(s.Fields(), "\x00"), strings.Join(back.Fields(), "\x00"); a != b {
			t.Fatalf("fields changed: %q -> %q", s.Fields(), back.Fields())
		}
		for _, k := range s.Fields() {
			r1, _ := s.Raw(k)
			r2, _ := back.Raw(k)
			var c1, c2 bytes.Buffer
			if err := json.Compact(&c1, r1); err != nil {
				t.Fatalf("field %q holds invalid JSON: %v", k, err)
			}
			if err := json.Compact(&c2, r2); err != nil {
				t.Fatalf("field %q written as invalid JSON: %v", k, err)
			}
			var v1, v2 any
			_ = json.Unmarshal(r1, &v1)
			_ = json.Unmarshal(r2, &v2)
			j1, _ := json.Marshal(v1)
			j2, _ := json.Marshal(v2)
			if !bytes.Equal(j1, j2) {
				t.Fatalf("field %q changed value: %s -> %s", k, r1, r2)
			}
			if _, err := s.Require(k); err != nil {
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != k || !strings.Contains(err.Error(), strconv.Quote(k)) {
					t.Fatalf("Require(%q): %v does not name the field", k, err)
				}
			}
			if _, err := s.Int(k, 0); err != nil && !errors.Is(err, ErrInvalidField) {
				t.Fatalf("Int(%q): %v", k, err)
			}
			if _, _, err := s.Bool(k); err != nil && !errors.Is(err, ErrInvalidField) {
				t.Fatalf("Bool(%q): %v", k, err)
			}
		}
		if c, _ := s.Clone().Value(); c != out {
			t.Fatalf("Clone differs: %s vs %s", c, out)
		}
	})
}

// FuzzValidateEvent: ValidateEvent accepts exactly the events with one of
// the four steps, a SecretId of 1 to 2048 and a token of 1 to 64 bytes of
// UTF-8 without control or format characters. A refusal wraps
// ErrUnknownStep or ErrInvalidEvent, names the field, and is short and
// printable whatever the event held; so is the handler's StepError text.
func FuzzValidateEvent(f *testing.F) {
	f.Add("createSecret", "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf", "0b3b5cfa-3c62-4d0a-9c0a-6f1b2b8f1e01")
	f.Add("setSecret\n", "arn\x00", "tok\u202e")
	f.Add("", "", "")
	f.Add(strings.Repeat("x", 3000), strings.Repeat("é", 1500), "\xff")
	f.Fuzz(func(t *testing.T, step, id, token string) {
		ev := events.SecretsManagerSecretRotationEvent{Step: step, SecretID: id, ClientRequestToken: token}
		err := ValidateEvent(ev)
		clean := func(v string, max int) bool {
			return v != "" && len(v) <= max && utf8.ValidString(v) && !strings.ContainsFunc(v, IsControlOrFormat)
		}
		want := Step(step).Valid() && clean(id, MaxSecretIDLength) && clean(token, MaxTokenLength)
		if (err == nil) != want {
			t.Fatalf("ValidateEvent(%q, %q, %q) = %v, want valid=%v", step, id, token, err, want)
		}
		if err == nil {
			return
		}
		if !errors.Is(err, ErrUnknownStep) && !errors.Is(err, ErrInvalidEvent) {
			t.Fatalf("%v wraps neither sentinel", err)
		}
		msg := err.Error()
		if !strings.Contains(msg, EventFieldStep) && !strings.Contains(msg, EventFieldSecretID) && !strings.Contains(msg, EventFieldToken) {
			t.Fatalf("%q names no field", msg)
		}
		if len(msg) > 300 {
			t.Fatalf("error of %d bytes", len(msg))
		}
		assertPrintable(t, "the error", msg)
		full := printableMessage(eventLabel(ev) + ": " + msg)
		assertPrintable(t, "the step error", full)
		if len(full) > 400 {
			t.Fatalf("step error of %d bytes", len(full))
		}
	})
}

// FuzzQuote: Quote's text is printable and bounded, and unquotes to the
// value (or, when cut, to a prefix of at most MaxQuoted characters and
// about 128 bytes of escaped text); Printable is
// the value itself only when that is plain, else Quote; printableMessage
// is printable, bounded, and leaves a printable text as it is.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"app", "", "a\"b\\c", "\x00\n\r\x1b[31m", "\u202e\u200f", "\xff\xfe", strings.Repeat("ю", 100), "arn:aws:secretsmanager:us-east-1:1:secret:x-AbCdEf"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := Quote(s)
		assertPrintable(t, "Quote", q)
		if len(q) > MaxQuoted*10+len(`""... (99999999999 bytes)`) {
			t.Fatalf("Quote is %d bytes", len(q))
		}
		end := strings.LastIndexByte(q, '"')
		un, err := strconv.Unquote(q[:end+1])
		if err != nil {
			t.Fatalf("Quote(%q) = %s does not unquote: %v", s, q, err)
		}
		if end == len(q)-1 {
			if un != s {
				t.Fatalf("Quote(%q) unquotes to %q", s, un)
			}
		} else if n := utf8.RuneCountInString(un); !strings.HasPrefix(s, un) || n == 0 || n > MaxQuoted || len(q) > 2*MaxQuoted+len(`""... (99999999999 bytes)`)+10 || !strings.HasSuffix(q, "("+strconv.Itoa(len(s))+" bytes)") {
			t.Fatalf("cut Quote(%q) = %s", s, q)
		}
		p := Printable(s)
		assertPrintable(t, "Printable", p)
		if p != s && p != q {
			t.Fatalf("Printable(%q) = %q", s, p)
		}
		m := printableMessage(s)
		assertPrintable(t, "printableMessage", m)
		if len(m) > MaxErrorMessage+len("... (99999999999 bytes)") {
			t.Fatalf("printableMessage is %d bytes", len(m))
		}
		if len(s) <= MaxErrorMessage && utf8.ValidString(s) && !strings.ContainsFunc(s, func(c rune) bool { return !strconv.IsGraphic(c) }) && m != s {
			t.Fatalf("printableMessage changed the printable %q to %q", s, m)
		}
	})
}

// FuzzPasswordPolicyFromEnv: any values of the policy variables give a
// policy that validates or an error wrapping ErrPasswordPolicy that names
// a variable and stays short and printable (so do EnvOptions' errors for
// the source, log level, dry-run and metrics variables); a policy that validates generates
// passwords of its length, from its alphabet, without an excluded
// character, and with one of each required class.
func FuzzPasswordPolicyFromEnv(f *testing.F) {
	f.Add("32", "", uint8(0), "")
	f.Add("4", "abc", uint8(0b100000), "yes")
	f.Add("0", "", uint8(0b1111), "1")
	f.Add("4097", "/@\"'\\", uint8(0b010001), "maybe")
	f.Add(" 12 ", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", uint8(0b110100), "TRUE")
	f.Add(strings.Repeat("9", 300), "\x00", uint8(0xff), "\n")
	f.Fuzz(func(t *testing.T, length, exclude string, flags uint8, boolText string) {
		names := []string{EnvExcludeNumbers, EnvExcludePunctuation, EnvExcludeUppercase, EnvExcludeLowercase, EnvIncludeSpace, EnvRequireEachIncludedType}
		env := map[string]string{EnvPasswordLength: length, EnvExcludeCharacters: exclude}
		for i, n := range names {
			switch {
			case flags&(1<<i) == 0:
			case flags&0x40 != 0:
				env[n] = boolText // any text, most of it not a boolean
			default:
				env[n] = "true"
			}
		}
		if flags&0x80 != 0 {
			// The function's other variables, read with the policy's.
			for _, n := range []string{EnvPasswordSource, EnvLogLevel, EnvDryRun, EnvMetrics} {
				env[n] = boolText
			}
			opts, err := EnvOptions(func(k string) string { return env[k] }, nil)
			if err == nil && len(opts) == 0 {
				t.Fatal("EnvOptions: no options and no error")
			}
			if err != nil {
				named := false
				for _, n := range append(names, EnvPasswordLength, EnvPasswordSource, EnvLogLevel, EnvDryRun, EnvMetrics) {
					named = named || strings.Contains(err.Error(), n)
				}
				if !named || len(err.Error()) > 400 {
					t.Fatalf("EnvOptions: %q names no variable or is long", err)
				}
				assertPrintable(t, "EnvOptions' error", err.Error())
			}
		}
		p, err := PasswordPolicyFromEnvWith(func(k string) string { return env[k] }, DefaultPasswordPolicy())
		if err != nil {
			if !errors.Is(err, ErrPasswordPolicy) {
				t.Fatalf("%v does not wrap ErrPasswordPolicy", err)
			}
			named := false
			for _, n := range append(names, EnvPasswordLength) {
				named = named || strings.Contains(err.Error(), n)
			}
			if !named {
				t.Fatalf("%q names no variable", err)
			}
			if len(err.Error()) > 400 {
				t.Fatalf("error of %d bytes", len(err.Error()))
			}
			assertPrintable(t, "the error", err.Error())
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("accepted a policy that does not validate: %v", err)
		}
		g, err := NewLocalPasswords(p)
		if err != nil {
			t.Fatalf("NewLocalPasswords: %v", err)
		}
		pw, err := g.NewPassword(context.Background())
		if err != nil {
			t.Fatalf("NewPassword: %v", err)
		}
		if len(pw) != p.Length {
			t.Fatalf("password of %d characters, want %d", len(pw), p.Length)
		}
		alphabet := p.Alphabet()
		for _, c := range pw {
			if !strings.ContainsRune(alphabet, c) || strings.ContainsRune(p.ExcludeCharacters, c) {
				t.Fatalf("character %q is not allowed", c)
			}
		}
		for _, c := range p.classes() {
			if c.required && !strings.ContainsAny(pw, c.chars) {
				t.Fatalf("no %s character in a password that requires one", c.name)
			}
		}
	})
}

// FuzzScrub: whatever surrounds it, a strong value (a generated password)
// never survives scrubbing, raw or as JSON or Go quoting would print it;
// a weak one does not survive where it stands alone between spaces; and
// text without a registered value is left as it is.
func FuzzScrub(f *testing.F) {
	f.Add("Xk9#mQ2$vL7pZ", "password=", " in the log", "")
	f.Add("TED]secret12", "[REDAC", "", "")
	f.Add("ED]abcdefghi1", "", "ED]abcdefghi1", "x")
	f.Add("hunter2", "login as app with ", " failed", "app")
	f.Add(`p@ss "w/rd" \ & ok`, `{"password":"`, `"}`, "")
	f.Add("aaaaaaaaaaaa", "a", "a", "aaaaaaaaaaaaa")
	f.Fuzz(func(t *testing.T, value, before, after, public string) {
		if value == "" {
			return
		}
		s := NewScrubber()
		s.Add(value)
		s.Public(public)
		texts := []string{before + value + after}
		if b, err := json.Marshal(value); err == nil {
			texts = append(texts, before+string(b)+after)
		}
		texts = append(texts, before+strconv.Quote(value)+after)
		for _, text := range texts {
			out := s.Scrub(text)
			if strongValue(value) && strings.Contains(out, value) {
				t.Fatalf("the strong value survives in %q", out)
			}
		}
		// A weak value that the marker itself holds ("[REDACTED]") cannot
		// be told from its own redaction.
		if !strongValue(value) && !strings.Contains(public, value) && !strings.Contains(Redacted, value) {
			out := s.Scrub(" " + value + " ")
			if !strings.Contains(out, Redacted) || strings.Contains(out, " "+value+" ") {
				t.Fatalf("the standalone weak value %q scrubs to %q", value, out)
			}
		}
		if !strings.Contains(before, value) && strongValue(value) {
			plain := before
			for _, form := range encodings(value) {
				if strings.Contains(plain, form) {
					return
				}
			}
			if got := s.Scrub(plain); got != plain {
				t.Fatalf("text without the value changed: %q -> %q", plain, got)
			}
		}
	})
}
