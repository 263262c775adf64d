package alternating

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/rotatorkit/rotator/rotator"
)

func TestParsePairs(t *testing.T) {
	tests := []struct {
		in      string
		want    [][2]string
		wantErr string
	}{
		{in: "", want: nil},
		{in: "app_a:app_b", want: [][2]string{{"app_a", "app_b"}}},
		{in: " app_a : app_b , app_c:app_d,", want: [][2]string{{"app_a", "app_b"}, {"app_c", "app_d"}}},
		{in: "App User:Other", want: [][2]string{{"App User", "Other"}}},
		{in: "app_a", wantErr: "entry 1 is not two user names"},
		{in: "a:b,c:d:e", wantErr: "entry 2 is not two user names"},
		{in: "a:a", wantErr: `entry 1 pairs "a" with itself`},
		{in: ":b", wantErr: "entry 1 has an empty user name"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePairs(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, rotator.ErrInvalidField) {
					t.Fatalf("err = %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAllowedPairsFromEnv(t *testing.T) {
	t.Setenv(EnvAllowedPairs, "a:b")
	opt, err := AllowedPairsFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	s := New(nil, opt)
	if !reflect.DeepEqual(s.pairs, [][2]string{{"a", "b"}}) {
		t.Fatalf("pairs %q", s.pairs)
	}
	t.Setenv(EnvAllowedPairs, "a:b,oops")
	if _, err := AllowedPairsFromEnv(); err == nil || !strings.Contains(err.Error(), EnvAllowedPairs) {
		t.Fatalf("err = %v, want one naming $%s", err, EnvAllowedPairs)
	}
}

func TestMasterPairs(t *testing.T) {
	tests := []struct {
		name string
		raw  string // the field's JSON; "" : absent
		want [][2]string
		bad  bool
	}{
		{name: "absent"},
		{name: "null", raw: `null`},
		{name: "array", raw: `[["a","b"],["c","d"]]`, want: [][2]string{{"a", "b"}, {"c", "d"}}},
		{name: "string holding the array", raw: `"[[\"a\",\"b\"]]"`, want: [][2]string{{"a", "b"}}},
		{name: "empty array", raw: `[]`, want: [][2]string{}},
		{name: "one name", raw: `[["a"]]`, bad: true},
		{name: "three names", raw: `[["a","b","c"]]`, bad: true},
		{name: "flat", raw: `["a","b"]`, bad: true},
		{name: "env format", raw: `"a:b"`, bad: true},
		{name: "number", raw: `1`, bad: true},
		{name: "same user twice", raw: `[["a","a"]]`, bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := rotator.NewSecret(map[string]string{"username": "master"})
			if tt.raw != "" {
				m.SetRaw(FieldAlternatingPairs, []byte(tt.raw))
			}
			got, err := masterPairs(m)
			if tt.bad {
				var fe *rotator.FieldError
				if !errors.As(err, &fe) || fe.Field != FieldAlternatingPairs || fe.Secret != "master" {
					t.Fatalf("err = %v, want a FieldError naming the master's %q", err, FieldAlternatingPairs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestTarget is the allowlist: which second users a secret may name, and
// what the engine's guard is then asked to check.
func TestTarget(t *testing.T) {
	tests := []struct {
		name     string
		user     string
		alt      string      // "alternateusername" ("" : unset)
		fnPairs  [][2]string // WithAllowedPairs
		mPairs   string      // the master's "alternatingpairs" JSON ("" : unset)
		want     rotator.CheckTargetRequest
		refused  bool   // a FieldError naming alternateusername, ErrNotAllowed
		badField string // another field error
	}{
		{name: "the clone, implied", user: "app",
			want: rotator.CheckTargetRequest{Username: "app_clone", Base: "app", Clone: "app_clone"}},
		{name: "back to the base, implied", user: "app_clone",
			want: rotator.CheckTargetRequest{Username: "app", Base: "app", Clone: "app_clone"}},
		{name: "the clone, named", user: "app", alt: "app_clone",
			want: rotator.CheckTargetRequest{Username: "app_clone", Base: "app", Clone: "app_clone"}},
		{name: "the base, named from the clone", user: "app_clone", alt: "app",
			want: rotator.CheckTargetRequest{Username: "app", Base: "app", Clone: "app_clone"}},
		{name: "another user, unlisted", user: "app", alt: "other", refused: true},
		{name: "another user, function lists it", user: "app", alt: "other", fnPairs: [][2]string{{"x", "y"}, {"app", "other"}},
			want: rotator.CheckTargetRequest{Username: "other"}},
		{name: "another user, function lists it the other way round", user: "app", alt: "other", fnPairs: [][2]string{{"other", "app"}},
			want: rotator.CheckTargetRequest{Username: "other"}},
		{name: "another user, master lists it", user: "app", alt: "other", mPairs: `[["other","app"]]`,
			want: rotator.CheckTargetRequest{Username: "other"}},
		{name: "master lists it as a string", user: "app", alt: "other", mPairs: `"[[\"app\",\"other\"]]"`,
			want: rotator.CheckTargetRequest{Username: "other"}},
		{name: "both users listed, not together", user: "app", alt: "other", fnPairs: [][2]string{{"app", "x"}}, mPairs: `[["other","y"]]`, refused: true},
		{name: "the clone of the clone is not the clone", user: "app_clone", alt: "app_clone_clone", refused: true},
		{name: "a listed clone name is a pre-created pair", user: "app", alt: "app_clone", mPairs: `[["app","app_clone"]]`,
			want: rotator.CheckTargetRequest{Username: "app_clone"}},
		{name: "malformed master list", user: "app", alt: "other", mPairs: `[["other"]]`, badField: FieldAlternatingPairs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(&fakeEngine{}, WithAllowedPairs(tt.fnPairs...))
			cur := rotator.NewSecret(map[string]string{"host": "db", "username": tt.user, "password": "pw", "masterarn": "m"})
			if tt.alt != "" {
				cur.SetString(FieldAlternateUsername, tt.alt)
			}
			master := rotator.NewSecret(map[string]string{"username": "admin", "password": "mpw"})
			if tt.mPairs != "" {
				master.SetRaw(FieldAlternatingPairs, []byte(tt.mPairs))
			}
			p, err := s.Plan(cur)
			if err != nil {
				t.Fatal(err)
			}
			early := s.allowedEarly(p)
			got, err := s.Target(p, master)
			var fe *rotator.FieldError
			switch {
			case tt.refused:
				if !errors.As(err, &fe) || fe.Field != FieldAlternateUsername || !errors.Is(err, rotator.ErrNotAllowed) {
					t.Fatalf("err = %v, want a refusal naming %q", err, FieldAlternateUsername)
				}
				if early {
					t.Fatal("allowed early, refused with the master")
				}
			case tt.badField != "":
				if !errors.As(err, &fe) || fe.Field != tt.badField {
					t.Fatalf("err = %v, want one naming %q", err, tt.badField)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if got != tt.want {
					t.Fatalf("request %+v, want %+v", got, tt.want)
				}
				if tt.mPairs == "" && !early {
					t.Fatal("allowed without the master's list, but not early")
				}
			}
		})
	}
}
