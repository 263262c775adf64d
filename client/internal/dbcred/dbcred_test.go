package dbcred_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rotatorkit/rotator/client/internal/dbcred"
	"github.com/rotatorkit/rotator/client/secretcache"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, value    string
		user, password string
		wantErr        bool
	}{
		{"RDS secret", `{"engine":"postgres","username":"app","password":"pw-Secret-1","port":5432}`, "app", "pw-Secret-1", false},
		{"empty password", `{"username":"app","password":""}`, "app", "", false},
		{"no password", `{"username":"app"}`, "", "", true},
		{"no username", `{"password":"pw-Secret-1"}`, "", "", true},
		{"empty username", `{"username":"","password":"pw-Secret-1"}`, "", "", true},
		{"password not a string", `{"username":"app","password":12345}`, "", "", true},
		{"not JSON", `user=app password=pw-Secret-1`, "", "", true},
	}
	sm := rotatortest.NewServer()
	defer sm.Close()
	cache := secretcache.New(sm.Client())
	defer cache.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := sm.MustCreateSecret(t, "parse/"+strings.ReplaceAll(tt.name, " ", "-"), tt.value)
			v, err := cache.Get(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			c, err := dbcred.Parse(v)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				if !errors.Is(err, dbcred.ErrMalformed) || !strings.Contains(err.Error(), v.VersionID()) {
					t.Fatalf("error %v: want ErrMalformed naming the version", err)
				}
				rotatortest.AssertNoSecrets(t, "the error", err.Error(), "pw-Secret-1")
				return
			}
			if c.Username != tt.user || c.Password != tt.password || c.VersionID != v.VersionID() {
				t.Fatalf("got user %q, version %s", c.Username, c.VersionID)
			}
		})
	}
}
