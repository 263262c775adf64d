package integration

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotatorkit/rotator/internal/pgtest"
	"github.com/rotatorkit/rotator/rotator"
)

// The rotation contract against a real server, for both strategies:
// rotation cancelled after createSecret stops setSecret before it changes
// the database, and finishSecret promotes only a version with a value.
func TestPostgresContractStepsThatWrite(t *testing.T) {
	for _, kind := range []strategyKind{singleUser, alternatingUsers} {
		name := map[strategyKind]string{singleUser: "single-user", alternatingUsers: "alternating-users"}[kind]
		t.Run(name+"/setSecret after CancelRotateSecret", func(t *testing.T) {
			r := contractRig(t, kind)
			cur := r.stage("AWSCURRENT")
			token := "c0c0c0c0-0000-4000-8000-000000000001"
			r.beginRotation(token)
			if err := r.step("createSecret", token); err != nil {
				t.Fatal(err)
			}
			if _, err := r.sm.Client().CancelRotateSecret(t.Context(), &secretsmanager.CancelRotateSecretInput{SecretId: aws.String(r.arn)}); err != nil {
				t.Fatal(err)
			}
			before := dbSnapshot(t, r.pg, cur.Username())
			if err := r.step("setSecret", token); !errors.Is(err, rotator.ErrRotationDisabled) {
				t.Fatalf("setSecret after CancelRotateSecret: %v, want %v", err, rotator.ErrRotationDisabled)
			}
			if err := r.login(r.stage("AWSCURRENT")); err != nil {
				t.Fatalf("AWSCURRENT stopped working: %v", err)
			}
			if pending := r.valueAt(token); pending != nil && r.login(pending) == nil {
				t.Fatal("the pending password was put in force although rotation is off")
			}
			if after := dbSnapshot(t, r.pg, cur.Username()); after != before {
				t.Fatalf("setSecret changed the database:\n%s\n->\n%s", before, after)
			}
			r.assertNoLeaks()
		})
		t.Run(name+"/finishSecret without a value", func(t *testing.T) {
			r := contractRig(t, kind)
			token := "c0c0c0c0-0000-4000-8000-000000000002"
			r.beginRotation(token)
			if err := r.step("finishSecret", token); !errors.Is(err, rotator.ErrPendingValueMissing) {
				t.Fatalf("finishSecret before createSecret: %v, want %v", err, rotator.ErrPendingValueMissing)
			}
			if r.sm.VersionOf(r.arn, "AWSCURRENT") == token {
				t.Fatal("AWSCURRENT moved to a version without a value")
			}
			if err := r.login(r.stage("AWSCURRENT")); err != nil {
				t.Fatalf("AWSCURRENT stopped working: %v", err)
			}
		})
	}
}

func contractRig(t *testing.T, kind strategyKind) *pgRig {
	t.Helper()
	pg := pgtest.Shared(t)
	if kind == alternatingUsers {
		return alternatingRig(t, pg, pgtest.UniqueName("ctr"), nil)
	}
	user := pgtest.UniqueName("ctr")
	pw := pgtest.RandomPassword(30)
	pg.CreateRole(t, user, pw, "LOGIN")
	return newPGRig(t, pg, singleUser, pg.Secret(user, pw))
}

// The engine's warnings reach the handler's (scrubbed) log: a function
// builds its engine without a logger of its own, as in Lambda, and a
// plaintext fallback allowed by sslmode=prefer must still be reported.
func TestPostgresEngineWarningsReachTheFunctionLog(t *testing.T) {
	pg := pgtest.Shared(t, pgtest.WithoutTLS())
	user := pgtest.UniqueName("warn")
	pw := pgtest.RandomPassword(30)
	pg.CreateRole(t, user, pw, "LOGIN")
	sec := pg.Secret(user, pw)
	sec.Delete("ssl")
	sec.SetString("sslmode", "prefer")
	r := newPGRig(t, pg, singleUser, sec)
	if out := r.rotate(); !out.Succeeded {
		t.Fatal(out.Err)
	}
	logs := r.logs.String()
	if !strings.Contains(logs, "connected without TLS") {
		t.Fatalf("the engine's plaintext warning is not in the function's log:\n%s", logs)
	}
	if !strings.Contains(logs, r.arn) {
		t.Fatal("the engine's lines lack the step's fields (secret_id)")
	}
	r.assertNoLeaks()
}

// An RDS-managed master secret holds only a username and a password, so
// the host it logs in to comes from the application's secret, which its
// writer controls. Such a master logs in only with SCRAM-SHA-256-PLUS over
// TLS: against the real server with TLS the rotation works; where the
// application's secret steers it to a connection without TLS (the
// writer's own listener, say), it is refused before the master's
// credential is used, and nothing changes.
func TestPostgresAttackMasterWithoutHost(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tls     bool
		sslmode string
		wantOK  bool
	}{
		{"TLS: channel binding", true, "require", true},
		{"steered to plaintext", false, "disable", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opt := pgtest.WithoutTLS()
			if tc.tls {
				opt = pgtest.WithTLS()
			}
			pg := pgtest.Shared(t, opt)
			base := pgtest.UniqueName("rdsm")
			r := alternatingRig(t, pg, base, nil)
			master := rotator.NewSecret(map[string]string{"username": pg.SuperUser, "password": pg.SuperPassword})
			mv, _ := master.Value()
			if _, err := r.sm.Client().PutSecretValue(t.Context(), putCurrentInput(r.masterARN, mv)); err != nil {
				t.Fatal(err)
			}
			cur := r.stage("AWSCURRENT")
			cur.Delete("ssl")
			cur.SetString("sslmode", tc.sslmode)
			r.putCurrent(cur)
			before := dbSnapshot(t, r.pg, base)
			out := r.rotate()
			if out.Succeeded != tc.wantOK {
				t.Fatalf("rotation succeeded %v, want %v: %v", out.Succeeded, tc.wantOK, out.Err)
			}
			if tc.wantOK {
				if err := r.login(r.stage("AWSCURRENT")); err != nil {
					t.Fatal(err)
				}
				return
			}
			if !strings.Contains(out.Err.Error(), "channel_binding") {
				t.Fatalf("the refusal does not name channel_binding: %v", out.Err)
			}
			if err := r.login(r.stage("AWSCURRENT")); err != nil {
				t.Fatalf("AWSCURRENT stopped working: %v", err)
			}
			if after := dbSnapshot(t, r.pg, base); after != before {
				t.Fatalf("the refused rotation changed the database")
			}
		})
	}
}
