package rotator

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestScrubberForms(t *testing.T) {
	s := NewScrubber()
	pw := `p@ss "w/rd" \ & ok`
	s.Add(pw, "")
	for _, text := range []string{
		"raw: " + pw,
		fmt.Sprintf("json: %q", pw),
		"url: postgres://u:p%40ss+%22w%2Frd%22+%5C+%26+ok@h/db",
	} {
		got := s.Scrub(text)
		if strings.Contains(got, "w/rd") || strings.Contains(got, "w%2Frd") {
			t.Errorf("scrub(%q) = %q", text, got)
		}
		if !strings.Contains(got, Redacted) {
			t.Errorf("scrub(%q) = %q: no marker", text, got)
		}
	}
	if got := s.Scrub("nothing here"); got != "nothing here" {
		t.Fatalf("changed clean text: %q", got)
	}
}

func TestScrubLogger(t *testing.T) {
	var buf bytes.Buffer
	s := NewScrubber()
	l := ScrubLogger(slog.New(slog.NewJSONHandler(&buf, nil)), s)
	s.Add("hunter2")
	l.With("w", "with hunter2").Info("msg hunter2",
		slog.String("a", "x hunter2"),
		slog.Any("err", errors.New("bad hunter2")),
		slog.Group("g", slog.String("b", "hunter2")),
	)
	if strings.Contains(buf.String(), "hunter2") {
		t.Fatalf("log line holds the value: %s", buf.String())
	}
	if strings.Count(buf.String(), Redacted) != 5 {
		t.Fatalf("want 5 redactions: %s", buf.String())
	}
}
