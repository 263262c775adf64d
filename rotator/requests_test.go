package rotator

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckTargetRequestUsers(t *testing.T) {
	noQuotes := func(field, name string) error {
		if strings.Contains(name, `"`) {
			return &FieldError{Field: field, Reason: "holds a quote", Err: ErrInvalidField}
		}
		if name == "" {
			return &FieldError{Field: field, Reason: "is empty", Err: ErrMissingField}
		}
		return nil
	}
	cases := []struct {
		name     string
		req      CheckTargetRequest
		want     []string
		errField string
	}{
		{name: "one user", req: CheckTargetRequest{Username: "app"}, want: []string{"app"}},
		{name: "base and clone", req: CheckTargetRequest{Username: "app_clone", Base: "app", Clone: "app_clone"}, want: []string{"app", "app_clone"}},
		{name: "outside its pair", req: CheckTargetRequest{Username: "admin", Base: "app", Clone: "app_clone"}, errField: FieldUsername},
		{name: "bad username", req: CheckTargetRequest{Username: `a"b`}, errField: FieldUsername},
		{name: "bad base", req: CheckTargetRequest{Username: "app", Base: `x"`, Clone: "app"}, errField: "base"},
		{name: "clone missing", req: CheckTargetRequest{Username: "app", Base: "app"}, errField: "clone"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.req.Users(noQuotes)
			if c.errField != "" {
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != c.errField {
					t.Fatalf("error %v, want one naming %q", err, c.errField)
				}
				return
			}
			if err != nil || strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Fatalf("Users() = %v, %v; want %v", got, err, c.want)
			}
		})
	}
}

func TestSecretOptional(t *testing.T) {
	s, err := ParseSecret(`{"a": "x", "b": null, "c": 3, "d": ""}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		field   string
		v       string
		set     bool
		wantErr bool
	}{{"a", "x", true, false}, {"b", "", false, false}, {"missing", "", false, false}, {"c", "", false, true}, {"d", "", true, false}} {
		v, set, err := s.Optional(c.field)
		if v != c.v || set != c.set || (err != nil) != c.wantErr {
			t.Errorf("Optional(%q) = %q, %v, %v", c.field, v, set, err)
		}
		if err != nil && !strings.Contains(err.Error(), `"`+c.field+`"`) {
			t.Errorf("error %v does not name the field", err)
		}
	}
}

func TestIsSensitiveField(t *testing.T) {
	for name, want := range map[string]bool{
		"password": true, "api_key": true, "api_key_secret": true, "client_secret": true, "auth_token": true, "API_KEY": true,
		// Identifiers of credentials are not credentials: logs name them.
		"key_id": false, "api_key_sid": false, "client_id": false, "adminarn": false, "secret_arn": false,
		"username": false, "host": false,
	} {
		if got := IsSensitiveField(name); got != want {
			t.Errorf("IsSensitiveField(%q) = %v, want %v", name, got, want)
		}
	}
}
