package rotator

import (
	"bytes"
	"context"
	"encoding/json"
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

// A short or simple value is removed only where it stands alone, so that a
// redaction neither garbles text nor spells the value out by its absence;
// a strong value is removed everywhere.
func TestScrubberShortValues(t *testing.T) {
	arn := "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-xAbCdE"
	tests := []struct {
		name, value, text, want string
	}{
		{"x inside words", "x", "role \"app\" does not exist", "role \"app\" does not exist"},
		{"x inside an ARN", "x", "reading " + arn, "reading " + arn},
		{"x as a key=value", "x", "password=x user=app", "password=[REDACTED] user=app"},
		{"x in JSON", "x", `{"password":"x"}`, `{"password":"[REDACTED]"}`},
		{"postgres inside names", "postgres", "engine postgresql on postgres.internal", "engine postgresql on postgres.internal"},
		{"postgres as a URL scheme", "postgres", "postgres://app:postgres@db:5432/app", "postgres://app:[REDACTED]@db:5432/app"},
		{"aws inside an ARN", "aws", "reading " + arn, "reading " + arn},
		{"public user name equal to the password", "app", "login as \"app\" failed", "login as \"app\" failed"},
		{"strong value everywhere", "Zq8!rT2@kL", "xZq8!rT2@kLx and Zq8!rT2@kL", "x[REDACTED]x and [REDACTED]"},
		{"long lower-case value everywhere", "correcthorsebattery", "acorrecthorsebatteryz", "a[REDACTED]z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewScrubber()
			s.Add(tt.value)
			s.Public(arn, "app")
			if got := s.Scrub(tt.text); got != tt.want {
				t.Fatalf("Scrub(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

// Every kind of slog value is scrubbed: json.RawMessage, slices, maps,
// structs, pointers, numbers, keys and group names.
func TestScrubLoggerEveryKind(t *testing.T) {
	const pw = "Kx9#mQ2$vW7!pL4" // strong
	const num = "73951846203"    // a numeric password, logged as a number
	type creds struct {
		User     string
		Password string
	}
	for _, handler := range []string{"json", "text"} {
		t.Run(handler, func(t *testing.T) {
			var buf bytes.Buffer
			var inner slog.Handler = slog.NewJSONHandler(&buf, nil)
			if handler == "text" {
				inner = slog.NewTextHandler(&buf, nil)
			}
			s := NewScrubber()
			s.Add(pw, num)
			l := ScrubLogger(slog.New(inner), s)
			l.WithGroup("g"+pw).Info("m",
				slog.Any("raw", json.RawMessage(`{"password":"`+pw+`"}`)),
				slog.Any("slice", []string{"a", pw}),
				slog.Any("map", map[string]any{"p": pw}),
				slog.Any("struct", creds{"app", pw}),
				slog.Any("ptr", &creds{"app", pw}),
				slog.Int64("n", 73951846203),
				slog.String("k"+pw, "v"),
			)
			out := buf.String()
			if strings.Contains(out, pw) || strings.Contains(out, num) {
				t.Fatalf("a value survived: %s", out)
			}
			if strings.Count(out, Redacted) < 8 {
				t.Fatalf("want at least 8 redactions: %s", out)
			}
		})
	}
}

// Engines log through the logger the handler puts in the step's context:
// scrubbed, with the step's fields.
func TestLoggerFromContext(t *testing.T) {
	if LoggerFrom(context.Background()) != nil {
		t.Fatal("a logger outside a step")
	}
	var buf bytes.Buffer
	s := NewScrubber()
	s.Add("Kx9#mQ2$vW7!pL4")
	ctx := ContextWithLogger(context.Background(), ScrubLogger(slog.New(slog.NewJSONHandler(&buf, nil)), s))
	LoggerFrom(ctx).Warn("engine warning", "detail", "Kx9#mQ2$vW7!pL4")
	if !strings.Contains(buf.String(), "engine warning") || strings.Contains(buf.String(), "Kx9#") {
		t.Fatalf("log: %s", buf.String())
	}
}
