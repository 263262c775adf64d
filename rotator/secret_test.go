package rotator

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestSecretKeepsUnknownFieldsByteForByte(t *testing.T) {
	in := `{"engine":"postgres","host":"db","port":5432,"username":"app","password":"old",` +
		`"extra":{"nested":[1,2.50,"x"],"z":null},"big":12345678901234567890,"unicode":"\u00e9\u2603"}`
	s, err := ParseSecret(in)
	if err != nil {
		t.Fatal(err)
	}
	c := s.Clone()
	c.SetString(FieldPassword, "new")
	out, err := c.Value()
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]string{
		"extra":   `{"nested":[1,2.50,"x"],"z":null}`,
		"big":     `12345678901234567890`,
		"unicode": `"\u00e9\u2603"`,
		"port":    `5432`,
	} {
		if string(got[field]) != want {
			t.Errorf("field %q = %s, want %s", field, got[field], want)
		}
	}
	if c.Password() != "new" || s.Password() != "old" {
		t.Fatalf("clone is not independent: %q %q", c.Password(), s.Password())
	}
}

func TestSecretTypedAccessors(t *testing.T) {
	s, err := ParseSecret(`{"port":"6543","n":5432,"bad":"x","ssl":"yes","b":true,"u":7}`)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := s.Int("port", 1); err != nil || p != 6543 {
		t.Fatalf("string port: %d %v", p, err)
	}
	if p, err := s.Int("n", 1); err != nil || p != 5432 {
		t.Fatalf("number port: %d %v", p, err)
	}
	if p, err := s.Int("missing", 5432); err != nil || p != 5432 {
		t.Fatalf("default: %d %v", p, err)
	}
	if _, err := s.Int("bad", 0); !errors.Is(err, ErrInvalidField) || !strings.Contains(err.Error(), `"bad"`) {
		t.Fatalf("bad int: %v", err)
	}
	if v, ok, err := s.Bool("ssl"); !v || !ok || err != nil {
		t.Fatalf("ssl: %v %v %v", v, ok, err)
	}
	if _, err := s.Require("u"); !errors.Is(err, ErrInvalidField) {
		t.Fatalf("non-string required field: %v", err)
	}
	if _, err := s.Require("username"); !errors.Is(err, ErrMissingField) || !strings.Contains(err.Error(), `"username"`) {
		t.Fatalf("missing field error must name the field: %v", err)
	}
}

func TestParseSecretRejectsWithoutQuoting(t *testing.T) {
	for _, in := range []string{`not json hunter2`, `["hunter2"]`, `"hunter2"`, `{"password":"hunter2"} trailing`, `null`, ``} {
		_, err := ParseSecret(in)
		if !errors.Is(err, ErrMalformedSecret) {
			t.Fatalf("%q: err = %v", in, err)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Fatalf("error quotes the input: %v", err)
		}
	}
}

func TestSecretSet(t *testing.T) {
	s := NewSecret(map[string]string{"username": "app"})
	if err := s.Set("port", 6543); err != nil {
		t.Fatal(err)
	}
	if err := s.Set("ssl", true); err != nil {
		t.Fatal(err)
	}
	if p, err := s.Int("port", 0); err != nil || p != 6543 {
		t.Fatalf("port %d %v", p, err)
	}
	if v, ok, err := s.Bool("ssl"); !v || !ok || err != nil {
		t.Fatalf("ssl %v %v %v", v, ok, err)
	}
	err := s.Set("bad", func() {})
	if !errors.Is(err, ErrInvalidField) || !strings.Contains(err.Error(), `"bad"`) || s.Has("bad") {
		t.Fatalf("unencodable value: %v", err)
	}
}
