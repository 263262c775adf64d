package integration

import (
	"slices"
	"strings"
	"testing"

	"github.com/rotatorkit/rotator/engines/mysql"
	"github.com/rotatorkit/rotator/internal/mariadbtest"
	"github.com/rotatorkit/rotator/rotator"
)

// TestMySQLAlternatingUsersRotation rotates a base user and its clone
// five times in a row with passwords holding every printable character.
func TestMySQLAlternatingUsersRotation(t *testing.T) {
	db := myShared(t)
	base := mariadbtest.UniqueName("alt")
	clone := base + "_clone"
	r := myAlternatingRig(t, db, base, nil, myRigConfig{opts: []rotator.Option{rotator.WithPasswordGenerator(everyChar{})}})
	r.assertAlternatingRotations(base, clone, 5)
	hosts := db.Query(t, "SELECT Host FROM mysql.user WHERE User = ?", clone)
	if !slices.Equal(hosts, []string{mariadbtest.UserHost}) {
		t.Fatalf("the clone's accounts are on hosts %q, want only the base's %q", hosts, mariadbtest.UserHost)
	}
}

// withoutMarker drops the marker role's grant line.
func withoutMarker(lines []string) []string {
	var out []string
	for _, l := range lines {
		if strings.Contains(l, "`"+mysql.CloneMarkerRole+"`") {
			continue
		}
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

// TestMySQLAlternatingCloneResync gives the base user privileges at every
// level, WITH GRANT OPTION, a granted and default role, REQUIRE SSL and a
// resource limit; the clone gets the same. Then a privilege is granted to
// and another revoked from the base: after the next rotations the clone
// has exactly the base's privileges again, whichever user is next.
func TestMySQLAlternatingCloneResync(t *testing.T) {
	db := myShared(t)
	base := mariadbtest.UniqueName("sync")
	clone := base + "_clone"
	d1, d2, role := mariadbtest.UniqueName("d1"), mariadbtest.UniqueName("d2"), mariadbtest.UniqueName("role")
	db.Exec(t, "CREATE DATABASE "+d1, "CREATE DATABASE "+d2, "CREATE TABLE "+d1+".t (a int, b int)",
		"CREATE ROLE "+role, "GRANT SELECT ON "+d2+".* TO "+role)
	r := myAlternatingRig(t, db, base, nil, myRigConfig{})
	acct := mariadbtest.Account(base, mariadbtest.UserHost)
	db.Exec(t,
		"GRANT SELECT, INSERT ON "+d1+".* TO "+acct+" WITH GRANT OPTION",
		"GRANT DELETE ON "+d1+".t TO "+acct,
		"GRANT UPDATE (a) ON "+d1+".t TO "+acct,
		"GRANT "+role+" TO "+acct,
		"SET DEFAULT ROLE "+role+" FOR "+acct,
		"ALTER USER "+acct+" REQUIRE SSL WITH MAX_QUERIES_PER_HOUR 1000",
	)
	same := func(when string) {
		t.Helper()
		b := withoutMarker(grantsOf(t, db, base, mariadbtest.UserHost))
		c := withoutMarker(grantsOf(t, db, clone, mariadbtest.UserHost))
		if !slices.Equal(b, c) {
			t.Fatalf("%s: the clone's grants differ from the base's:\nbase  %q\nclone %q", when, b, c)
		}
		for _, l := range c {
			if strings.Contains(l, "REQUIRE SSL") && strings.Contains(l, "MAX_QUERIES_PER_HOUR 1000") {
				return
			}
		}
		t.Fatalf("%s: REQUIRE SSL and the resource limit are not on the clone: %q", when, c)
	}
	if out := r.rotate(); !out.Succeeded {
		t.Fatal(out.Err)
	}
	same("after creating the clone")
	cloneGrants := strings.Join(grantsOf(t, db, clone, mariadbtest.UserHost), "\n")
	t.Logf("clone grants:\n%s", cloneGrants)
	for _, want := range []string{"WITH GRANT OPTION", "GRANT `" + role + "` TO", "SET DEFAULT ROLE `" + role + "`", "UPDATE (`a`)"} {
		if !strings.Contains(cloneGrants, want) {
			t.Fatalf("the clone lacks %q:\n%s", want, cloneGrants)
		}
	}
	// Drift: the base gains one privilege and loses another, twice, so that
	// each of the two users is next once.
	for i, change := range [][]string{
		{"GRANT CREATE VIEW ON " + d2 + ".* TO " + acct, "REVOKE DELETE ON " + d1 + ".t FROM " + acct},
		{"GRANT SELECT (b) ON " + d1 + ".t TO " + acct, "REVOKE INSERT ON " + d1 + ".* FROM " + acct, "SET DEFAULT ROLE NONE FOR " + acct},
	} {
		db.Exec(t, change...)
		if out := r.rotate(); !out.Succeeded {
			t.Fatalf("rotation %d after the change: %v", i+2, out.Err)
		}
		same("after a change to the base")
		for _, s := range []*rotator.Secret{r.stage("AWSCURRENT"), r.stage("AWSPREVIOUS")} {
			if err := r.login(s); err != nil {
				t.Fatalf("%s no longer logs in: %v", s.Username(), err)
			}
		}
	}
}

// TestMySQLAlternatingPreCreatedPair rotates a pre-created pair that the
// master secret's "alternatingpairs" allows: neither user is a clone, and
// the second user's privileges are left as they are.
func TestMySQLAlternatingPreCreatedPair(t *testing.T) {
	db := myShared(t)
	a := myUser(t, db, "pair_a")
	b := mariadbtest.UniqueName("pair_b")
	db.CreateUser(t, b, mariadbtest.UserHost, mariadbtest.RandomPassword(30), "GRANT SELECT ON "+b+"_only.* TO %s")
	r := newMyRig(t, db, alternatingUsers, a, myRigConfig{})
	master := db.Secret(db.SuperUser, db.SuperPassword)
	if err := master.Set("alternatingpairs", [][]string{{a.Username(), b}}); err != nil {
		t.Fatal(err)
	}
	cur := r.stage("AWSCURRENT")
	cur.SetString(rotator.FieldMasterARN, r.storeSecret("rds/master", master))
	cur.SetString("alternateusername", b)
	r.putCurrent(cur)
	grantsBefore := grantsOf(t, db, b, mariadbtest.UserHost)
	for i := 1; i <= 4; i++ {
		if out := r.rotate(); !out.Succeeded {
			t.Fatalf("rotation %d: %v", i, out.Err)
		}
		for _, s := range []*rotator.Secret{r.stage("AWSCURRENT"), r.stage("AWSPREVIOUS")} {
			if err := r.login(s); err != nil {
				t.Fatalf("rotation %d: %s: %v", i, s.Username(), err)
			}
		}
	}
	if got := grantsOf(t, db, b, mariadbtest.UserHost); !slices.Equal(got, grantsBefore) {
		t.Fatalf("the pre-created user's grants changed:\nbefore %q\nafter  %q", grantsBefore, got)
	}
}
