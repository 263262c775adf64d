package integration

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rotatorkit/rotator/engines/postgres"
	"github.com/rotatorkit/rotator/internal/pgtest"
	"github.com/rotatorkit/rotator/rotator"
)

// TestPostgresAlternatingWithCreateRoleMaster rotates with a master like
// RDS's: CREATEROLE, not a superuser. On PostgreSQL 16 and later such a
// master may change or grant a role only with ADMIN OPTION on it (RDS
// gives its master that on roles it creates); without it the rotation must
// fail with an error that says so and leave AWSCURRENT working.
func TestPostgresAlternatingWithCreateRoleMaster(t *testing.T) {
	pg := pgtest.Shared(t)
	master, masterPW := pgtest.UniqueName("rdsmaster"), pgtest.RandomPassword(30)
	pg.CreateRole(t, master, masterPW, "LOGIN", "CREATEROLE")
	base := pgtest.UniqueName("rdsapp")
	pw := pgtest.RandomPassword(30)
	pg.CreateRole(t, base, pw, "LOGIN")

	r := newPGRig(t, pg, alternatingUsers, pg.Secret(base, pw))
	mv, _ := pg.Secret(master, masterPW).Value()
	masterARN := r.sm.MustCreateSecret(t, pgtest.UniqueName("rds/master"), mv)
	r.seen = append(r.seen, masterPW)
	cur := r.stage("AWSCURRENT")
	cur.SetString(rotator.FieldMasterARN, masterARN)
	r.putCurrent(cur)

	v16 := serverVersionNum(t, pg) >= 160000
	if v16 {
		out := r.rotate()
		if out.Succeeded {
			t.Fatal("rotated although the master lacks ADMIN OPTION on the user (PostgreSQL 16+)")
		}
		if !errors.Is(out.Err, rotator.ErrPermission) || !strings.Contains(out.Err.Error(), "ADMIN OPTION") {
			t.Fatalf("error does not say what the master lacks: %v", out.Err)
		}
		if err := r.login(r.stage("AWSCURRENT")); err != nil {
			t.Fatalf("AWSCURRENT stopped working: %v", err)
		}
		// What RDS does for roles its master creates.
		pg.Exec(t, "GRANT "+quoteIdent(base)+" TO "+quoteIdent(master)+" WITH ADMIN OPTION")
		// Secrets Manager reattempts the failed rotation (a new
		// RotateSecret is refused while it is incomplete).
		if again, ok := r.sm.ResumeRotation(r.arn); !ok || !again.Succeeded {
			t.Fatalf("reattempt after the grant: %+v", again)
		}
	}
	for i := 0; i < 3; i++ {
		out := r.rotate()
		if !out.Succeeded {
			t.Fatalf("rotation %d with a CREATEROLE master (v16+ %v): %v", i+1, v16, out.Err)
		}
		if err := r.login(r.stage("AWSCURRENT")); err != nil {
			t.Fatal(err)
		}
		if err := r.login(r.stage("AWSPREVIOUS")); err != nil {
			t.Fatal(err)
		}
	}
}

func serverVersionNum(t *testing.T, pg *pgtest.Server) int {
	t.Helper()
	var s string
	if err := pg.Admin(t).QueryRow(context.Background(), "SHOW server_version_num").Scan(&s); err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPostgresMasterTLSAtLeastAsStrict: a master secret whose own TLS
// settings are weaker than the rotated secret's connects with the
// secret's. The server refuses the master any connection without TLS, so
// the rotation succeeds only if the master used it.
func TestPostgresMasterTLSAtLeastAsStrict(t *testing.T) {
	pg := pgtest.Start(t, pgtest.WithTLS())
	if pg.DataDir == "" {
		t.Skipf("needs a server whose pg_hba.conf the test can edit (this one is a %s server)", pg.Mode)
	}
	master, masterPW := pgtest.UniqueName("tlsmaster"), pgtest.RandomPassword(30)
	pg.CreateRole(t, master, masterPW, "LOGIN", "CREATEROLE")
	hba := filepath.Join(pg.DataDir, "pg_hba.conf")
	old, err := os.ReadFile(hba)
	if err != nil {
		t.Fatal(err)
	}
	deny := "hostnossl all " + master + " 127.0.0.1/32 reject\nhostnossl all " + master + " ::1/128 reject\n"
	if err := os.WriteFile(hba, append([]byte(deny), old...), 0o600); err != nil {
		t.Fatal(err)
	}
	pg.Exec(t, "SELECT pg_reload_conf()")
	weak := pg.Secret(master, masterPW)
	weak.Delete("ssl")
	weak.Delete("sslrootcert")
	weak.SetString("sslmode", "disable")
	if err := (postgres.New()).Login(context.Background(), weak); err == nil {
		t.Fatal("the master logs in without TLS: the server does not refuse it")
	}

	base, pw := pgtest.UniqueName("tlsapp"), pgtest.RandomPassword(30)
	pg.CreateRole(t, base, pw, "LOGIN")
	if serverVersionNum(t, pg) >= 160000 {
		pg.Exec(t, "GRANT "+quoteIdent(base)+" TO "+quoteIdent(master)+" WITH ADMIN OPTION")
	}
	r := newPGRig(t, pg, alternatingUsers, pg.Secret(base, pw)) // "ssl": true with the CA: verify-full
	r.seen = append(r.seen, masterPW)
	mv, _ := weak.Value()
	cur := r.stage("AWSCURRENT")
	cur.SetString(rotator.FieldMasterARN, r.sm.MustCreateSecret(t, pgtest.UniqueName("rds/master"), mv))
	r.putCurrent(cur)
	if out := r.rotate(); !out.Succeeded {
		t.Fatalf("the master did not connect with the secret's TLS settings: %v", out.Err)
	}
	if err := r.login(r.stage("AWSCURRENT")); err != nil {
		t.Fatal(err)
	}
}
