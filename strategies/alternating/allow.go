package alternating

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/rotatorkit/rotator/rotator"
)

// Which second user a secret may name.
//
// Whoever can write an application's secret controls every field of it,
// "alternateusername" included, while the passwords are set with the
// master's power. So the second user must be one the secret's own user is
// entitled to:
//
//   - its clone: username + suffix, or the base name when the username
//     ends in the suffix (the engine's guard then also checks that an
//     existing clone really is a clone of the base);
//   - or a pre-created user paired with it by whoever controls the master
//     secret (its "alternatingpairs" field) or the function's
//     configuration ($ROTATOR_ALTERNATING_PAIRS, WithAllowedPairs).
//
// A pair is unordered: ["app_a","app_b"] allows app_a to alternate with
// app_b and back. An application's secret cannot allow anything itself.

// FieldAlternatingPairs is the master secret's field that lists the
// pre-created pairs of users it may alternate: a JSON array of two-element
// arrays of user names, e.g. [["app_a","app_b"],["rep_1","rep_2"]]. A JSON
// string holding that array is accepted too (the console's key/value
// editor stores only strings).
const FieldAlternatingPairs = "alternatingpairs"

// EnvAllowedPairs lists the pre-created pairs of users a function allows,
// as "app_a:app_b,app_c:app_d" (spaces around names are ignored; names
// holding ':' or ',' can only be listed in the master secret).
const EnvAllowedPairs = "ROTATOR_ALTERNATING_PAIRS"

// WithAllowedPairs allows pre-created pairs of users (unordered), in
// addition to those the master secret lists in "alternatingpairs".
func WithAllowedPairs(pairs ...[2]string) Option {
	return func(st *Strategy) { st.pairs = append(st.pairs, pairs...) }
}

// AllowedPairsFromEnv returns the WithAllowedPairs option for
// $ROTATOR_ALTERNATING_PAIRS (no pairs when it is unset), or an error
// naming the variable when it cannot be read, so that a function refuses
// to start rather than run with an allowlist it misread.
func AllowedPairsFromEnv() (Option, error) {
	pairs, err := ParsePairs(os.Getenv(EnvAllowedPairs))
	if err != nil {
		return nil, fmt.Errorf("$%s: %w", EnvAllowedPairs, err)
	}
	return WithAllowedPairs(pairs...), nil
}

// ParsePairs reads pairs written as "a:b,c:d". Empty entries (a trailing
// comma) are skipped; an entry without exactly one ':', with an empty name,
// or pairing a user with itself is an error.
func ParsePairs(s string) ([][2]string, error) {
	var out [][2]string
	for i, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		names := strings.Split(entry, ":")
		if len(names) != 2 {
			return nil, fmt.Errorf("%w: entry %d is not two user names joined by ':' (write \"app_a:app_b,app_c:app_d\")", rotator.ErrInvalidField, i+1)
		}
		p := [2]string{strings.TrimSpace(names[0]), strings.TrimSpace(names[1])}
		if err := checkPair(p); err != nil {
			return nil, fmt.Errorf("%w: entry %d %s", rotator.ErrInvalidField, i+1, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func checkPair(p [2]string) error {
	switch {
	case p[0] == "" || p[1] == "":
		return fmt.Errorf("has an empty user name")
	case p[0] == p[1]:
		return fmt.Errorf("pairs %s with itself", rotator.Quote(p[0]))
	}
	return nil
}

// masterPairs reads the master secret's "alternatingpairs" (nil when it
// has none).
func masterPairs(master *rotator.Secret) ([][2]string, error) {
	raw, ok := master.Raw(FieldAlternatingPairs)
	if !ok || strings.TrimSpace(string(raw)) == "null" {
		return nil, nil
	}
	bad := func(reason string) error {
		return &rotator.FieldError{Secret: "master", Field: FieldAlternatingPairs, Reason: reason, Err: rotator.ErrInvalidField}
	}
	const shape = `must be a JSON array of two-element arrays of user names, e.g. [["app_a","app_b"]]`
	var str string
	if json.Unmarshal(raw, &str) == nil {
		raw = json.RawMessage(str)
	}
	var lists [][]string
	if err := json.Unmarshal(raw, &lists); err != nil {
		return nil, bad(shape)
	}
	out := make([][2]string, 0, len(lists))
	for i, l := range lists {
		if len(l) != 2 {
			return nil, bad(fmt.Sprintf("%s (entry %d has %d names)", shape, i+1, len(l)))
		}
		p := [2]string{l[0], l[1]}
		if err := checkPair(p); err != nil {
			return nil, bad(fmt.Sprintf("entry %d %s", i+1, err))
		}
		out = append(out, p)
	}
	return out, nil
}

func listed(a, b string, pairs [][2]string) bool {
	for _, p := range pairs {
		if (p[0] == a && p[1] == b) || (p[0] == b && p[1] == a) {
			return true
		}
	}
	return false
}

// notAllowed is the refusal of a second user, naming the field.
func notAllowed(reason string, err error) error {
	if err == nil {
		err = rotator.ErrNotAllowed
	}
	return &rotator.FieldError{Secret: "current", Field: FieldAlternateUsername, Reason: reason, Err: err}
}

// allowedEarly reports whether the plan's second user is allowed without
// the master secret: the clone, or a pair the function's configuration
// lists. false means only the master's "alternatingpairs" can allow it.
func (s *Strategy) allowedEarly(p Plan) bool {
	return !p.Named || p.Base != "" || listed(p.Current, p.Next, s.pairs)
}

// Target checks that the plan's second user is one the current user is
// entitled to, given the master secret's "alternatingpairs", and returns
// the request for the engine's guard (its Conn left for the caller). A
// refusal is a *rotator.FieldError naming "alternateusername" and wrapping
// rotator.ErrNotAllowed; a malformed "alternatingpairs" names that field
// of the master secret. SetPending and the preflight both use it.
func (s *Strategy) Target(p Plan, master *rotator.Secret) (rotator.CheckTargetRequest, error) {
	clonePair := rotator.CheckTargetRequest{Username: p.Next, Base: p.Base, Clone: p.CloneName}
	if !p.Named {
		return clonePair, nil
	}
	mp, err := masterPairs(master)
	if err != nil {
		return rotator.CheckTargetRequest{}, err
	}
	if listed(p.Current, p.Next, s.pairs) || listed(p.Current, p.Next, mp) {
		// A pre-created pair: the engine checks the user, not a clone link.
		return rotator.CheckTargetRequest{Username: p.Next}, nil
	}
	if p.Base != "" {
		return clonePair, nil
	}
	base, clone := s.clonePair(p.Current)
	other := clone
	if p.Current == clone {
		other = base
	}
	return rotator.CheckTargetRequest{}, notAllowed(fmt.Sprintf(
		"names %s: %s may alternate only with its clone pair %s, or with a user paired with it by the master secret's %q or $%s",
		rotator.Quote(p.Next), rotator.Quote(p.Current), rotator.Quote(other), FieldAlternatingPairs, EnvAllowedPairs), nil)
}
