package rotator

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestPasswordPolicyDraws(t *testing.T) {
	const draws = 10000
	tests := []struct {
		name   string
		policy PasswordPolicy
	}{
		{"default", DefaultPasswordPolicy()},
		{"short all types", PasswordPolicy{Length: 4, RequireEachIncludedType: true}},
		{"exclude chars as AWS templates suggest", PasswordPolicy{Length: 32, ExcludeCharacters: "/@\"'\\", RequireEachIncludedType: true}},
		{"no punctuation", PasswordPolicy{Length: 20, ExcludePunctuation: true, RequireEachIncludedType: true}},
		{"digits only", PasswordPolicy{Length: 12, ExcludePunctuation: true, ExcludeUppercase: true, ExcludeLowercase: true, RequireEachIncludedType: true}},
		{"with space, no requirement", PasswordPolicy{Length: 16, IncludeSpace: true}},
		{"long", PasswordPolicy{Length: 128, IncludeSpace: true, RequireEachIncludedType: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := NewLocalPasswords(tt.policy)
			if err != nil {
				t.Fatal(err)
			}
			alphabet := tt.policy.Alphabet()
			seen := map[string]bool{}
			used := map[rune]bool{}
			for i := 0; i < draws; i++ {
				pw, err := g.NewPassword(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				checkPassword(t, tt.policy, alphabet, pw)
				if seen[pw] && tt.policy.Length >= 12 {
					t.Fatalf("draw %d repeated an earlier password", i)
				}
				seen[pw] = true
				for _, c := range pw {
					used[c] = true
				}
			}
			// Every allowed character shows up over 10,000 draws: a generator
			// that never uses part of its alphabet is biased.
			for _, c := range alphabet {
				if !used[c] {
					t.Errorf("character %q never drawn", c)
				}
			}
		})
	}
}

func checkPassword(t *testing.T, p PasswordPolicy, alphabet, pw string) {
	t.Helper()
	if len(pw) != p.Length {
		t.Fatalf("length %d, want %d", len(pw), p.Length)
	}
	for _, c := range pw {
		if !strings.ContainsRune(alphabet, c) {
			t.Fatalf("character %q outside the policy's alphabet", c)
		}
		if strings.ContainsRune(p.ExcludeCharacters, c) {
			t.Fatalf("excluded character %q used", c)
		}
	}
	if !p.RequireEachIncludedType {
		return
	}
	for _, cl := range p.classes() {
		if cl.required && !strings.ContainsAny(pw, cl.chars) {
			t.Fatalf("no %s character in a password of policy %+v", cl.name, p)
		}
	}
}

func TestPasswordPolicyImpossible(t *testing.T) {
	tests := []struct {
		name   string
		policy PasswordPolicy
		want   string
	}{
		{"zero length", PasswordPolicy{Length: 0}, "length 0"},
		{"too long", PasswordPolicy{Length: 5000}, "length 5000"},
		{"everything excluded", PasswordPolicy{Length: 8, ExcludeLowercase: true, ExcludeUppercase: true, ExcludeNumbers: true, ExcludePunctuation: true}, "every character class is excluded"},
		{"too short for required types", PasswordPolicy{Length: 3, RequireEachIncludedType: true}, "cannot hold one character of each of the 4"},
		{"required class emptied by exclusions", PasswordPolicy{Length: 8, ExcludeCharacters: "0123456789", RequireEachIncludedType: true}, "every numbers character is excluded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewLocalPasswords(tt.policy)
			if !errors.Is(err, ErrPasswordPolicy) {
				t.Fatalf("err = %v, want ErrPasswordPolicy", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %q, want it to say %q", err, tt.want)
			}
		})
	}
}

func TestPasswordPolicyFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    PasswordPolicy
		wantErr string
	}{
		{"defaults", nil, DefaultPasswordPolicy(), ""},
		{"all set", map[string]string{
			EnvPasswordLength: "20", EnvExcludeCharacters: "/@\"", EnvExcludeNumbers: "yes",
			EnvExcludePunctuation: "1", EnvExcludeUppercase: "y", EnvExcludeLowercase: "false",
			EnvIncludeSpace: "TRUE", EnvRequireEachIncludedType: "no",
		}, PasswordPolicy{Length: 20, ExcludeCharacters: "/@\"", ExcludeNumbers: true, ExcludePunctuation: true, ExcludeUppercase: true, IncludeSpace: true}, ""},
		{"bad length", map[string]string{EnvPasswordLength: "long"}, PasswordPolicy{}, "PASSWORD_LENGTH"},
		{"bad bool", map[string]string{EnvExcludeNumbers: "maybe"}, PasswordPolicy{}, "EXCLUDE_NUMBERS"},
		{"impossible", map[string]string{EnvPasswordLength: "2"}, PasswordPolicy{}, "cannot hold"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PasswordPolicyFromEnv(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrPasswordPolicy) {
					t.Fatalf("err = %v, want ErrPasswordPolicy naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func BenchmarkLocalPassword(b *testing.B) {
	g, err := NewLocalPasswords(DefaultPasswordPolicy())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.NewPassword(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// trivialStrategy is a Strategy with no password defaults.
type trivialStrategy struct{}

func (trivialStrategy) CreatePending(context.Context, *Rotation) (*Secret, error) { return nil, nil }
func (trivialStrategy) SetPending(context.Context, *Rotation) error               { return nil }
func (trivialStrategy) TestPending(context.Context, *Rotation) error              { return nil }

type defaultingStrategy struct{ trivialStrategy }

func (defaultingStrategy) PasswordPolicyDefaults(p *PasswordPolicy) { p.ExcludeCharacters = `:/@"'\` }

// A strategy's defaults (PostgreSQL's excluded characters) apply when the
// environment says nothing, and EXCLUDE_CHARACTERS still wins, even empty.
func TestPasswordPolicyStrategyDefaults(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"strategy default", nil, `:/@"'\`},
		{"environment wins", map[string]string{EnvExcludeCharacters: "xyz"}, "xyz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := PasswordPolicyFromEnvWith(env(tt.env), DefaultPasswordPolicyFor(defaultingStrategy{}))
			if err != nil {
				t.Fatal(err)
			}
			if p.ExcludeCharacters != tt.want {
				t.Fatalf("ExcludeCharacters = %q, want %q", p.ExcludeCharacters, tt.want)
			}
		})
	}
	// The process environment tells set-but-empty from unset.
	t.Setenv(EnvExcludeCharacters, "")
	if p, err := PasswordPolicyFromEnvWith(nil, DefaultPasswordPolicyFor(defaultingStrategy{})); err != nil || p.ExcludeCharacters != "" {
		t.Fatalf("EXCLUDE_CHARACTERS set empty: %q, %v; want nothing excluded", p.ExcludeCharacters, err)
	}
	if p := DefaultPasswordPolicyFor(trivialStrategy{}); p.ExcludeCharacters != "" {
		t.Fatalf("a strategy without defaults got %q", p.ExcludeCharacters)
	}
}
