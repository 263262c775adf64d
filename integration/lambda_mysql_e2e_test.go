package integration

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/rotatorkit/rotator/engines/mysql"
	"github.com/rotatorkit/rotator/internal/functest"
	"github.com/rotatorkit/rotator/internal/mariadbtest"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// The MySQL functions' real bootstraps under the Lambda Runtime API,
// driven by RotateSecret as Secrets Manager drives them, against MariaDB
// with TLS verified through ROTATOR_MYSQL_CA_BUNDLE (the secrets hold no
// CA). The dual-password function is built and started too: on MariaDB it
// must refuse with a configuration error and change nothing.
func TestMySQLLambdaEndToEnd(t *testing.T) {
	db := myShared(t, mariadbtest.WithTLS())
	const single, alt, dual = "mysql-single-user", "mysql-alternating-users", "mysql-dual-password"
	bins := functest.Build(t, t.TempDir(), "", single, alt, dual)
	caEnv := mysql.EnvCABundle + "=" + db.CAFile

	t.Run("SingleUserRotation", func(t *testing.T) {
		sm := rotatortest.NewServer()
		t.Cleanup(sm.Close)
		f := functest.Start(t, bins[single], "rotator-mysql-single", sm, functest.Options{Env: []string{caEnv}})
		sec := myUser(t, db, "lsu")
		sec.Delete("sslrootcert")
		arn := sm.MustCreateSecret(t, mariadbtest.UniqueName("app/single"), e2eValue(t, sec))
		seen := []string{sec.Password()}
		for round := 1; round <= 2; round++ {
			o, calls := f.Rotate(t, sm, arn)
			if !o.Succeeded {
				t.Fatalf("rotation %d: %v\n%s", round, o.Err, f.Process.Output())
			}
			fc := functest.FunctionCalls(calls)
			t.Logf("rotation %d: %d Secrets Manager calls by the function: %v", round, len(fc), functest.CountByOperation(fc))
			if len(fc) > 10 {
				t.Errorf("rotation %d: %d Secrets Manager calls, the budget is 10", round, len(fc))
			}
			cur := e2eCurrentSecret(t, sm, arn)
			if slices.Contains(seen, cur.Password()) {
				t.Fatalf("rotation %d did not change the password", round)
			}
			if strings.ContainsAny(cur.Password(), mysql.DefaultExcludeCharacters) {
				t.Errorf("the new password holds one of %s, excluded by default", mysql.DefaultExcludeCharacters)
			}
			if err := db.CanLogin(context.Background(), cur.Username(), cur.Password()); err != nil {
				t.Fatalf("rotation %d: the new password does not log in: %v", round, err)
			}
			if db.CanLogin(context.Background(), cur.Username(), seen[len(seen)-1]) == nil {
				t.Errorf("rotation %d: the old password still logs in", round)
			}
			seen = append(seen, cur.Password())
		}
		functest.AssertNoSecrets(t, "the function's output", f.Process.Output(), seen...)
	})

	t.Run("AlternatingUsersRotation", func(t *testing.T) {
		sm := rotatortest.NewServer()
		t.Cleanup(sm.Close)
		f := functest.Start(t, bins[alt], "rotator-mysql-alternating", sm, functest.Options{Env: []string{caEnv}})
		base := mariadbtest.UniqueName("lal")
		pw := mariadbtest.RandomPassword(30)
		db.CreateUser(t, base, mariadbtest.UserHost, pw)
		master := db.Secret(db.SuperUser, db.SuperPassword)
		master.Delete("sslrootcert")
		masterARN := sm.MustCreateSecret(t, mariadbtest.UniqueName("rds/master"), e2eValue(t, master))
		app := db.Secret(base, pw)
		app.Delete("sslrootcert")
		app.SetString(rotator.FieldMasterARN, masterARN)
		arn := sm.MustCreateSecret(t, mariadbtest.UniqueName("app/alt"), e2eValue(t, app))
		seen := []string{pw, db.SuperPassword}
		for round, want := range []string{base + "_clone", base} {
			o, _ := f.Rotate(t, sm, arn)
			if !o.Succeeded {
				t.Fatalf("rotation %d: %v\n%s", round+1, o.Err, f.Process.Output())
			}
			cur := e2eCurrentSecret(t, sm, arn)
			if cur.Username() != want {
				t.Fatalf("rotation %d: AWSCURRENT user %q, want %q", round+1, cur.Username(), want)
			}
			if err := db.CanLogin(context.Background(), cur.Username(), cur.Password()); err != nil {
				t.Fatalf("rotation %d: %v", round+1, err)
			}
			seen = append(seen, cur.Password())
		}
		functest.AssertNoSecrets(t, "the function's output", f.Process.Output(), seen...)
	})

	t.Run("DualPasswordOnMariaDBRefuses", func(t *testing.T) {
		sm := rotatortest.NewServer(rotatortest.WithRotationAttempts(1))
		t.Cleanup(sm.Close)
		f := functest.Start(t, bins[dual], "rotator-mysql-dual", sm, functest.Options{Env: []string{caEnv}})
		sec := myUser(t, db, "ldp")
		sec.Delete("sslrootcert")
		arn := sm.MustCreateSecret(t, mariadbtest.UniqueName("app/dual"), e2eValue(t, sec))
		before := sm.VersionOf(arn, rotatortest.StageCurrent)
		o, _ := f.Rotate(t, sm, arn)
		if o.Succeeded || o.Err == nil || !strings.Contains(o.Err.Error(), "dual password") && !strings.Contains(o.Err.Error(), "RETAIN CURRENT PASSWORD") {
			t.Fatalf("dual password on MariaDB: %v", o.Err)
		}
		if sm.VersionOf(arn, rotatortest.StageCurrent) != before {
			t.Fatal("AWSCURRENT moved")
		}
		if err := db.CanLogin(context.Background(), sec.Username(), sec.Password()); err != nil {
			t.Fatalf("AWSCURRENT stopped working: %v", err)
		}
	})
}
