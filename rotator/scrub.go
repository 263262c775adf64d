package rotator

import (
	"bytes"
	"context"
	"encoding/json"
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
type Scrubber struct {
	mu     sync.RWMutex
	values map[string]struct{}
	sorted []string // longest first, so a value inside another goes second
}

// NewScrubber returns an empty scrubber.
func NewScrubber() *Scrubber { return &Scrubber{values: map[string]struct{}{}} }

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
		s.sorted = s.sorted[:0]
		for v := range s.values {
			s.sorted = append(s.sorted, v)
		}
		sort.Slice(s.sorted, func(i, j int) bool { return len(s.sorted[i]) > len(s.sorted[j]) })
	}
}

// AddSecret registers the sensitive fields of a secret.
func (s *Scrubber) AddSecret(sec *Secret) { s.Add(sec.sensitiveValues()...) }

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

// Scrub returns text with every registered value replaced by Redacted.
func (s *Scrubber) Scrub(text string) string {
	if s == nil {
		return text
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, v := range s.sorted {
		if strings.Contains(text, v) {
			text = strings.ReplaceAll(text, v, Redacted)
		}
	}
	return text
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

func (h *scrubHandler) scrubAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.s.Scrub(v.String()))
	case slog.KindGroup:
		attrs := v.Group()
		out := make([]any, len(attrs))
		for i, g := range attrs {
			out[i] = h.scrubAttr(g)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, h.s.Scrub(x.Error()))
		case interface{ String() string }:
			return slog.String(a.Key, h.s.Scrub(x.String()))
		case []byte:
			return slog.String(a.Key, h.s.Scrub(string(x)))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func (h *scrubHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		out[i] = h.scrubAttr(a)
	}
	return &scrubHandler{inner: h.inner.WithAttrs(out), s: h.s}
}

func (h *scrubHandler) WithGroup(name string) slog.Handler {
	return &scrubHandler{inner: h.inner.WithGroup(name), s: h.s}
}
