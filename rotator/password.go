package rotator

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Character classes, exactly as GetRandomPassword defines them.
const (
	lowerChars = "abcdefghijklmnopqrstuvwxyz"
	upperChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	digitChars = "0123456789"
	punctChars = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
)

// MaxPasswordLength is GetRandomPassword's upper bound.
const MaxPasswordLength = 4096

// PasswordPolicy holds GetRandomPassword's options. The zero value is not
// AWS's default; start from DefaultPasswordPolicy.
type PasswordPolicy struct {
	// Length of the password, 1 to 4096. AWS's default is 32.
	Length int
	// ExcludeCharacters lists characters never to use.
	ExcludeCharacters string
	// ExcludeNumbers, ExcludePunctuation, ExcludeUppercase and
	// ExcludeLowercase drop a whole class.
	ExcludeNumbers, ExcludePunctuation, ExcludeUppercase, ExcludeLowercase bool
	// IncludeSpace adds the space character.
	IncludeSpace bool
	// RequireEachIncludedType asks for at least one character of each
	// included class (lower, upper, number, punctuation; not space).
	RequireEachIncludedType bool
}

// DefaultPasswordPolicy is GetRandomPassword's default.
func DefaultPasswordPolicy() PasswordPolicy {
	return PasswordPolicy{Length: 32, RequireEachIncludedType: true}
}

// Env variable names, as AWS's rotation templates name them.
const (
	EnvPasswordLength          = "PASSWORD_LENGTH"
	EnvExcludeCharacters       = "EXCLUDE_CHARACTERS"
	EnvExcludeNumbers          = "EXCLUDE_NUMBERS"
	EnvExcludePunctuation      = "EXCLUDE_PUNCTUATION"
	EnvExcludeUppercase        = "EXCLUDE_UPPERCASE"
	EnvExcludeLowercase        = "EXCLUDE_LOWERCASE"
	EnvIncludeSpace            = "INCLUDE_SPACE"
	EnvRequireEachIncludedType = "REQUIRE_EACH_INCLUDED_TYPE"
	// EnvPasswordSource selects the generator: "local" (crypto/rand, the
	// default) or "api" (Secrets Manager's GetRandomPassword).
	EnvPasswordSource = "PASSWORD_SOURCE"
)

// PolicyDefaulter is implemented by a strategy (usually on behalf of its
// engine) whose credentials need other defaults than GetRandomPassword's:
// AWS's PostgreSQL templates exclude :/@"'\ by default, since those break
// the connection URLs and .pgpass files applications build. Environment
// variables still override what it sets.
type PolicyDefaulter interface {
	PasswordPolicyDefaults(p *PasswordPolicy)
}

// DefaultPasswordPolicyFor is DefaultPasswordPolicy adjusted by s when it is
// a PolicyDefaulter.
func DefaultPasswordPolicyFor(s Strategy) PasswordPolicy {
	p := DefaultPasswordPolicy()
	if d, ok := s.(PolicyDefaulter); ok {
		d.PasswordPolicyDefaults(&p)
	}
	return p
}

// PasswordPolicyFromEnv reads the policy from environment variables named as
// AWS's templates name them. getenv is os.Getenv when nil. Unset variables
// keep AWS's defaults; a malformed one is an error naming it.
func PasswordPolicyFromEnv(getenv func(string) string) (PasswordPolicy, error) {
	return PasswordPolicyFromEnvWith(getenv, DefaultPasswordPolicy())
}

// PasswordPolicyFromEnvWith is PasswordPolicyFromEnv starting from base
// instead of GetRandomPassword's defaults. An EXCLUDE_CHARACTERS set to
// the empty string excludes nothing.
//
// With getenv nil the process environment is read, where a variable set
// to the empty string differs from one not set (as in AWS's templates);
// with a getenv function the two are the same.
func PasswordPolicyFromEnvWith(getenv func(string) string, base PasswordPolicy) (PasswordPolicy, error) {
	lookup := func(name string) (string, bool) { v := getenv(name); return v, v != "" }
	if getenv == nil {
		getenv, lookup = os.Getenv, os.LookupEnv
	}
	p := base
	if v := strings.TrimSpace(getenv(EnvPasswordLength)); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return p, fmt.Errorf("%w: %s=%s is not a whole number", ErrPasswordPolicy, EnvPasswordLength, Quote(v))
		}
		p.Length = n
	}
	if v, ok := lookup(EnvExcludeCharacters); ok {
		p.ExcludeCharacters = v
	}
	bools := []struct {
		name string
		dst  *bool
	}{
		{EnvExcludeNumbers, &p.ExcludeNumbers},
		{EnvExcludePunctuation, &p.ExcludePunctuation},
		{EnvExcludeUppercase, &p.ExcludeUppercase},
		{EnvExcludeLowercase, &p.ExcludeLowercase},
		{EnvIncludeSpace, &p.IncludeSpace},
		{EnvRequireEachIncludedType, &p.RequireEachIncludedType},
	}
	for _, b := range bools {
		v := strings.TrimSpace(getenv(b.name))
		if v == "" {
			continue
		}
		parsed, err := ParseBool(v)
		if err != nil {
			return p, fmt.Errorf("%w: %s: %v", ErrPasswordPolicy, b.name, err)
		}
		*b.dst = parsed
	}
	if err := p.Validate(); err != nil {
		return p, fmt.Errorf("password policy from %s=%d and the EXCLUDE_*, INCLUDE_SPACE and %s variables: %w",
			EnvPasswordLength, p.Length, EnvRequireEachIncludedType, err)
	}
	return p, nil
}

type charClass struct {
	name     string
	chars    string
	required bool
}

// classes returns the included classes with excluded characters removed.
func (p PasswordPolicy) classes() []charClass {
	drop := func(set string) string {
		if p.ExcludeCharacters == "" {
			return set
		}
		var b strings.Builder
		for _, c := range set {
			if !strings.ContainsRune(p.ExcludeCharacters, c) {
				b.WriteRune(c)
			}
		}
		return b.String()
	}
	var cs []charClass
	add := func(excluded bool, name, set string, required bool) {
		if !excluded {
			cs = append(cs, charClass{name: name, chars: drop(set), required: required && p.RequireEachIncludedType})
		}
	}
	add(p.ExcludeLowercase, "lowercase", lowerChars, true)
	add(p.ExcludeUppercase, "uppercase", upperChars, true)
	add(p.ExcludeNumbers, "numbers", digitChars, true)
	add(p.ExcludePunctuation, "punctuation", punctChars, true)
	add(!p.IncludeSpace, "space", " ", false)
	return cs
}

// Validate reports why a policy cannot produce a password.
func (p PasswordPolicy) Validate() error {
	if p.Length < 1 || p.Length > MaxPasswordLength {
		return fmt.Errorf("%w: length %d is outside 1..%d", ErrPasswordPolicy, p.Length, MaxPasswordLength)
	}
	total, required := 0, 0
	for _, c := range p.classes() {
		if c.required && c.chars == "" {
			return fmt.Errorf("%w: every %s character is excluded but each included type is required", ErrPasswordPolicy, c.name)
		}
		if c.required {
			required++
		}
		total += len(c.chars)
	}
	if total == 0 {
		return fmt.Errorf("%w: every character class is excluded", ErrPasswordPolicy)
	}
	if required > p.Length {
		return fmt.Errorf("%w: length %d cannot hold one character of each of the %d required types", ErrPasswordPolicy, p.Length, required)
	}
	return nil
}

// Alphabet returns every character the policy may use.
func (p PasswordPolicy) Alphabet() string {
	var b strings.Builder
	for _, c := range p.classes() {
		b.WriteString(c.chars)
	}
	return b.String()
}

// PasswordGenerator makes new passwords.
type PasswordGenerator interface {
	NewPassword(ctx context.Context) (string, error)
}

// LocalPasswords generates passwords with crypto/rand: no API call.
type LocalPasswords struct {
	policy PasswordPolicy
	rand   io.Reader
}

var _ PasswordGenerator = (*LocalPasswords)(nil)

// NewLocalPasswords checks the policy and returns a generator for it.
func NewLocalPasswords(p PasswordPolicy) (*LocalPasswords, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &LocalPasswords{policy: p, rand: rand.Reader}, nil
}

// NewPassword draws one password: one character of each required class,
// the rest uniformly from the whole alphabet, then a uniform shuffle.
func (g *LocalPasswords) NewPassword(context.Context) (string, error) {
	p := g.policy
	alphabet := p.Alphabet()
	out := make([]byte, 0, p.Length)
	r := &uniform{src: g.rand}
	for _, c := range p.classes() {
		if c.required {
			i, err := r.intn(len(c.chars))
			if err != nil {
				return "", err
			}
			out = append(out, c.chars[i])
		}
	}
	for len(out) < p.Length {
		i, err := r.intn(len(alphabet))
		if err != nil {
			return "", err
		}
		out = append(out, alphabet[i])
	}
	for i := len(out) - 1; i > 0; i-- {
		j, err := r.intn(i + 1)
		if err != nil {
			return "", err
		}
		out[i], out[j] = out[j], out[i]
	}
	return string(out), nil
}

// uniform draws unbiased small integers from a byte source by rejection.
type uniform struct {
	src io.Reader
	buf [64]byte
	n   int
	pos int
}

func (u *uniform) byte() (byte, error) {
	if u.pos >= u.n {
		if _, err := io.ReadFull(u.src, u.buf[:]); err != nil {
			return 0, fmt.Errorf("read random bytes: %w", err)
		}
		u.n, u.pos = len(u.buf), 0
	}
	b := u.buf[u.pos]
	u.pos++
	return b, nil
}

// intn returns a uniform integer in [0, n) for 0 < n <= 4096.
func (u *uniform) intn(n int) (int, error) {
	if n <= 256 {
		limit := 256 - 256%n
		for {
			b, err := u.byte()
			if err != nil {
				return 0, err
			}
			if int(b) < limit {
				return int(b) % n, nil
			}
		}
	}
	limit := 65536 - 65536%n
	for {
		hi, err := u.byte()
		if err != nil {
			return 0, err
		}
		lo, err := u.byte()
		if err != nil {
			return 0, err
		}
		v := int(hi)<<8 | int(lo)
		if v < limit {
			return v % n, nil
		}
	}
}

// RandomPasswordAPI is the one call APIPasswords needs.
type RandomPasswordAPI interface {
	GetRandomPassword(ctx context.Context, in *secretsmanager.GetRandomPasswordInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetRandomPasswordOutput, error)
}

// APIPasswords asks Secrets Manager's GetRandomPassword: one API call more
// per rotation, for teams whose policy says passwords come from AWS.
type APIPasswords struct {
	policy PasswordPolicy
	api    RandomPasswordAPI
}

var _ PasswordGenerator = (*APIPasswords)(nil)

// NewAPIPasswords checks the policy and returns a generator calling api.
func NewAPIPasswords(api RandomPasswordAPI, p PasswordPolicy) (*APIPasswords, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &APIPasswords{policy: p, api: api}, nil
}

// NewPassword calls GetRandomPassword with the policy's options.
func (g *APIPasswords) NewPassword(ctx context.Context) (string, error) {
	p := g.policy
	in := &secretsmanager.GetRandomPasswordInput{
		PasswordLength:          aws.Int64(int64(p.Length)),
		ExcludeNumbers:          aws.Bool(p.ExcludeNumbers),
		ExcludePunctuation:      aws.Bool(p.ExcludePunctuation),
		ExcludeUppercase:        aws.Bool(p.ExcludeUppercase),
		ExcludeLowercase:        aws.Bool(p.ExcludeLowercase),
		IncludeSpace:            aws.Bool(p.IncludeSpace),
		RequireEachIncludedType: aws.Bool(p.RequireEachIncludedType),
	}
	if p.ExcludeCharacters != "" {
		in.ExcludeCharacters = aws.String(p.ExcludeCharacters)
	}
	out, err := g.api.GetRandomPassword(ctx, in)
	if err != nil {
		return "", fmt.Errorf("GetRandomPassword: %w", err)
	}
	if out.RandomPassword == nil || *out.RandomPassword == "" {
		return "", fmt.Errorf("GetRandomPassword returned no password")
	}
	return *out.RandomPassword, nil
}
