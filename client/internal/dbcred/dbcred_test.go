package dbcred_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

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

// TestPickAfterRefusal drives the stages of a single-user secret through
// rotatortest's Secrets Manager around a refusal of AWSCURRENT, and checks
// which version the next connection uses.
func TestPickAfterRefusal(t *testing.T) {
	tests := []struct {
		name string
		// afterRead moves the stages after the cache read AWSCURRENT
		// following the refusal, before the pick.
		afterRead func(t *testing.T, sm *secretsmanager.Client, id string, v1, v2 string)
		// pending: the pick is v2 as AWSPENDING, else as AWSCURRENT.
		pending bool
	}{
		{
			// Between setSecret and finishSecret: only AWSPENDING works.
			name:      "rotation between setSecret and finishSecret",
			afterRead: func(*testing.T, *secretsmanager.Client, string, string, string) {},
			pending:   true,
		},
		{
			// The rotation finished and the next one stored its AWSPENDING
			// (its setSecret not run yet): the server has v2, not v3.
			name: "rotation finished and the next one created",
			afterRead: func(t *testing.T, sm *secretsmanager.Client, id string, v1, v2 string) {
				stage(t, sm, id, "AWSCURRENT", v2, v1)
				stage(t, sm, id, "AWSPENDING", "", v2)
				put(t, sm, id, "v3", `{"username":"app","password":"pw-Secret-3"}`)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := rotatortest.NewServer()
			defer srv.Close()
			id := srv.MustCreateSecret(t, "pick/"+strings.ReplaceAll(tt.name, " ", "-"), `{"username":"app","password":"pw-Secret-1"}`)
			sm := srv.Client()
			v1 := srv.VersionOf(id, secretcache.StageCurrent)
			v2 := put(t, sm, id, "v2", `{"username":"app","password":"pw-Secret-2"}`)
			cache := secretcache.New(sm)
			defer cache.Close()
			ctx := context.Background()
			p := dbcred.NewPicker(cache, id, true, nil)
			if c, err := p.Pick(ctx); err != nil || c.VersionID != v1 {
				t.Fatalf("first pick: version %s, %v; want AWSCURRENT %s", c.VersionID, err, v1)
			}
			// setSecret ran: the server refuses v1, and the cache reads
			// AWSCURRENT (still v1) after the refusal.
			since := time.Now()
			p.Refused("app", "pw-Secret-1")
			if v, err := cache.Refresh(ctx, id, secretcache.StageCurrent, since); err != nil || v.VersionID() != v1 {
				t.Fatalf("refresh: %s, %v", v.VersionID(), err)
			}
			tt.afterRead(t, sm, id, v1, v2)
			c, err := p.Pick(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if c.VersionID != v2 || c.Pending != tt.pending {
				t.Fatalf("pick: version %s (pending %v), want %s (pending %v)", c.VersionID, c.Pending, v2, tt.pending)
			}
		})
	}
}

// put stores a new version labelled AWSPENDING, as createSecret does.
func put(t *testing.T, sm *secretsmanager.Client, id, token, value string) string {
	t.Helper()
	tok := token + "-" + strings.Repeat("0", 32-len(token))
	if _, err := sm.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{
		SecretId: &id, ClientRequestToken: &tok, SecretString: &value, VersionStages: []string{"AWSPENDING"},
	}); err != nil {
		t.Fatal(err)
	}
	return tok
}

// stage moves a label to version to (from from; "" removes it from from).
func stage(t *testing.T, sm *secretsmanager.Client, id, label, to, from string) {
	t.Helper()
	in := &secretsmanager.UpdateSecretVersionStageInput{SecretId: &id, VersionStage: &label}
	if to != "" {
		in.MoveToVersionId = &to
	}
	if from != "" {
		in.RemoveFromVersionId = &from
	}
	if _, err := sm.UpdateSecretVersionStage(context.Background(), in); err != nil {
		t.Fatal(err)
	}
}
