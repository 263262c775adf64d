package rotator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Redacted replaces a secret value wherever one would have been printed.
const Redacted = "[REDACTED]"

// Scrubber removes known secret values from text. It knows the values of
// every secret a rotation touched (current, pending, previous, master) and
// every password it generated, in the encodings in which a driver or an
// error might echo them (raw, JSON-escaped, URL-escaped).
//
// A redaction must not tell a reader the value. A long random value is
// replaced wherever it appears: it cannot occur in text by chance. A short
// or simple value ("x", "postgres") occurs inside ordinary words and names,
// and cutting it out there would garble the text and spell the value out
// by its absence ("does not e[REDACTED]ist"). Such a value is replaced only
// where it stands alone, between separators, outside the non-secret values
// the scrubber was told of (the secret's ARN, user and host names): there
// the text says nothing about it that another value would not.
type Scrubber struct {
	mu         sync.RWMutex
	values     map[string]struct{}
	public     map[string]struct{}
	anywhere   []string // strong values, longest first
	standalone []string // weak values, longest first
	publics    []string // longest first
}

// NewScrubber returns an empty scrubber.
func NewScrubber() *Scrubber {
	return &Scrubber{values: map[string]struct{}{}, public: map[string]struct{}{}}
}

// Add registers values to remove. Empty strings are ignored.
func (s *Scrubber) Add(values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := false
	for _, v := range values {
		if v == "" {
			continue
		}
		for _, form := range encodings(v) {
			if _, ok := s.values[form]; !ok {
				s.values[form] = struct{}{}
				changed = true
			}
		}
	}
	if changed {
		s.anywhere, s.standalone = s.anywhere[:0], s.standalone[:0]
		for v := range s.values {
			if strongValue(v) {
				s.anywhere = append(s.anywhere, v)
			} else {
				s.standalone = append(s.standalone, v)
			}
		}
		longestFirst(s.anywhere)
		longestFirst(s.standalone)
	}
}

// Public registers values known not to be secret (ARNs, user and host
// names). A short secret value is never cut out of them: a password equal
// to a user name is then printed as that name, which tells a reader nothing
// the name did not. Long values are still removed everywhere.
func (s *Scrubber) Public(values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := false
	for _, v := range values {
		if v == "" {
			continue
		}
		if _, ok := s.public[v]; !ok {
			s.public[v] = struct{}{}
			changed = true
		}
	}
	if changed {
		s.publics = s.publics[:0]
		for v := range s.public {
			s.publics = append(s.publics, v)
		}
		longestFirst(s.publics)
	}
}

// AddSecret registers the sensitive fields of a secret, and its other
// string fields as public.
func (s *Scrubber) AddSecret(sec *Secret) {
	s.Add(sec.sensitiveValues()...)
	s.Public(sec.publicValues()...)
}

func longestFirst(v []string) {
	sort.Slice(v, func(i, j int) bool {
		if len(v[i]) != len(v[j]) {
			return len(v[i]) > len(v[j])
		}
		return v[i] < v[j]
	})
}

// strongValue reports whether v is unlikely to occur in text by chance:
// 12 bytes or more, or 8 or more from at least three character classes
// (every generated password qualifies).
func strongValue(v string) bool {
	if len(v) >= 12 {
		return true
	}
	if len(v) < 8 {
		return false
	}
	var lower, upper, digit, other bool
	for _, c := range []byte(v) {
		switch {
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= 'A' && c <= 'Z':
			upper = true
		case c >= '0' && c <= '9':
			digit = true
		default:
			other = true
		}
	}
	n := 0
	for _, b := range []bool{lower, upper, digit, other} {
		if b {
			n++
		}
	}
	return n >= 3
}

func encodings(v string) []string {
	forms := []string{v}
	// JSON with and without HTML escaping, and Go's %q: the ways an error
	// or a log encoder may have quoted the value.
	if b, err := json.Marshal(v); err == nil {
		forms = append(forms, string(b[1:len(b)-1]))
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) == nil {
		b := bytes.TrimSpace(buf.Bytes())
		forms = append(forms, string(b[1:len(b)-1]))
	}
	q := strconv.Quote(v)
	forms = append(forms, q[1:len(q)-1])
	forms = append(forms, url.QueryEscape(v), url.PathEscape(v))
	return forms
}

// isSeparator: the bytes that end a standalone value (white space, quotes,
// brackets and the punctuation of key=value, JSON, URLs and lists).
func isSeparator(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '"', '\'', '`', '=', ':', ',', ';', '(', ')', '[', ']', '{', '}', '<', '>', '@', '/', '?', '&', '#', '|':
		return true
	}
	return false
}

// Scrub returns text with every registered value replaced by Redacted.
func (s *Scrubber) Scrub(text string) string {
	if s == nil {
		return text
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	// A replacement can make a value out of the marker and what follows
	// it ("[REDACTED]" then "ED]..." when a value starts so): repeat until
	// no strong value is left. No strong value fits inside the marker, so
	// every round shortens the text and the loop ends.
	for again := true; again; {
		again = false
		for _, v := range s.anywhere {
			if strings.Contains(text, v) {
				text = strings.ReplaceAll(text, v, Redacted)
				again = true
			}
		}
	}
	for _, v := range s.standalone {
		if strings.Contains(text, v) {
			text = s.replaceStandalone(text, v)
		}
	}
	return text
}

// replaceStandalone replaces the occurrences of v that stand between
// separators (or the ends of text) and do not lie within a public value.
func (s *Scrubber) replaceStandalone(text, v string) string {
	var protected [][2]int
	for _, p := range s.publics {
		for i := 0; ; {
			j := strings.Index(text[i:], p)
			if j < 0 {
				break
			}
			protected = append(protected, [2]int{i + j, i + j + len(p)})
			i += j + 1
		}
	}
	var b strings.Builder
	last := 0
	for i := 0; i <= len(text)-len(v); {
		j := strings.Index(text[i:], v)
		if j < 0 {
			break
		}
		start, end := i+j, i+j+len(v)
		alone := (start == 0 || isSeparator(text[start-1])) && (end == len(text) || isSeparator(text[end])) &&
			!strings.HasPrefix(text[end:], "://") // a URL's scheme, not a value
		for _, p := range protected {
			// Only an occurrence that lies within a public value is that
			// value's text; one that merely touches a public value (or
			// holds one) is the secret standing alone.
			if p[0] <= start && end <= p[1] {
				alone = false
				break
			}
		}
		if !alone {
			i = start + 1
			continue
		}
		b.WriteString(text[last:start])
		b.WriteString(Redacted)
		last, i = end, end
	}
	if last == 0 {
		return text
	}
	b.WriteString(text[last:])
	return b.String()
}

// scrubHandler is a slog.Handler that scrubs the message and every string,
// error or Stringer attribute before the inner handler sees them: a second
// line of defence behind the rule that no value is ever logged.
type scrubHandler struct {
	inner slog.Handler
	s     *Scrubber
}

// ScrubLogger wraps a logger so that no registered value reaches its output.
func ScrubLogger(l *slog.Logger, s *Scrubber) *slog.Logger {
	return slog.New(&scrubHandler{inner: l.Handler(), s: s})
}

func (h *scrubHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *scrubHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.s.Scrub(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.scrubAttr(a))
		return true
	})
	return h.inner.Handle(ctx, out)
}

// scrubAttr scrubs an attribute of any kind: keys too, and values logged
// with slog.Any (errors, Stringers, json.RawMessage, maps, slices,
// structs) in the forms a handler would print them, JSON and %+v. A value
// that held a secret is replaced by its scrubbed text.
func (h *scrubHandler) scrubAttr(a slog.Attr) slog.Attr {
	key := h.s.Scrub(a.Key)
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(key, h.s.Scrub(v.String()))
	case slog.KindGroup:
		attrs := v.Group()
		out := make([]any, len(attrs))
		for i, g := range attrs {
			out[i] = h.scrubAttr(g)
		}
		return slog.Group(key, out...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(key, h.s.Scrub(x.Error()))
		case interface{ String() string }:
			return slog.String(key, h.s.Scrub(x.String()))
		case []byte:
			return slog.String(key, h.s.Scrub(string(x)))
		case json.RawMessage:
			return slog.String(key, h.s.Scrub(string(x)))
		}
		text := fmt.Sprintf("%+v", v.Any())
		if b, err := json.Marshal(v.Any()); err == nil {
			if js := string(b); h.s.Scrub(js) != js {
				return slog.String(key, h.s.Scrub(js))
			}
		}
		if scrubbed := h.s.Scrub(text); scrubbed != text {
			return slog.String(key, scrubbed)
		}
	default: // numbers, booleans, times, durations: a numeric password
		if text := v.String(); h.s.Scrub(text) != text {
			return slog.String(key, h.s.Scrub(text))
		}
	}
	return slog.Attr{Key: key, Value: v}
}

func (h *scrubHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		out[i] = h.scrubAttr(a)
	}
	return &scrubHandler{inner: h.inner.WithAttrs(out), s: h.s}
}

func (h *scrubHandler) WithGroup(name string) slog.Handler {
	return &scrubHandler{inner: h.inner.WithGroup(h.s.Scrub(name)), s: h.s}
}
