package integration

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rotatorkit/rotator/internal/pgtest"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/strategies/single"
)

// tlsOnlyGroup makes a group role whose members pg_hba.conf admits over
// TLS only (hostssl; hostnossl rejects them), and returns its name. The
// server's pg_hba.conf gets the two lines first, written through SQL so
// that it works whatever the server's source, and is restored when the
// test ends. Other roles are not affected.
func tlsOnlyGroup(t *testing.T, pg *pgtest.Server) string {
	t.Helper()
	ctx := context.Background()
	group := pgtest.UniqueName("tls_only")
	pg.CreateRole(t, group, "")
	admin := pg.Admin(t)
	var file, orig string
	if err := admin.QueryRow(ctx, "SELECT current_setting('hba_file'), pg_read_file(current_setting('hba_file'))").Scan(&file, &orig); err != nil {
		t.Fatal(err)
	}
	write := func(lines []string) {
		t.Helper()
		lits := make([]string, len(lines))
		for i, l := range lines {
			if strings.ContainsAny(l, "\\'") {
				t.Fatalf("pg_hba.conf line %q: this helper writes no quotes or backslashes", l)
			}
			// COPY's text format would escape a tab; hba treats any
			// blank as a separator.
			lits[i] = "'" + strings.ReplaceAll(l, "\t", " ") + "'"
		}
		pg.Exec(t, "COPY (SELECT unnest(ARRAY["+strings.Join(lits, ",")+"]::text[])) TO '"+file+"'")
		var ok bool
		if err := admin.QueryRow(ctx, "SELECT pg_reload_conf()").Scan(&ok); err != nil || !ok {
			t.Fatalf("pg_reload_conf: %v %v", ok, err)
		}
	}
	origLines := strings.Split(strings.TrimRight(orig, "\n"), "\n")
	write(append([]string{
		"hostssl all +" + group + " all scram-sha-256",
		"hostnossl all +" + group + " all reject",
	}, origLines...))
	t.Cleanup(func() { write(origLines) })
	var bad int
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL").Scan(&bad); err != nil || bad != 0 {
		t.Fatalf("pg_hba.conf has %d bad lines (%v)", bad, err)
	}
	return group
}

// plaintextLogin logs in as user without TLS.
func plaintextLogin(pg *pgtest.Server, user, password string) error {
	ctx := context.Background()
	cc, err := pg.ConnConfig(user, password, "")
	if err != nil {
		return err
	}
	cc.TLSConfig, cc.Fallbacks = nil, nil
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// TestPostgresSingleUserPreviousFallback: when the current password is
// stale, setSecret falls back to the previous password over the current
// secret's connection settings. The server admits the user over TLS only,
// AWSPREVIOUS says sslmode disable and AWSCURRENT require: the fallback can
// change the password only if it keeps AWSCURRENT's TLS.
func TestPostgresSingleUserPreviousFallback(t *testing.T) {
	pg := pgtest.Shared(t, pgtest.WithTLS())
	group := tlsOnlyGroup(t, pg)
	tests := []struct {
		name     string
		previous func(prev *rotator.Secret) // edits AWSPREVIOUS, a copy of AWSCURRENT with the previous password
		server   string                     // whose password the server has: "previous" or "neither"
	}{
		{"TLS tightened in AWSCURRENT", func(prev *rotator.Secret) {
			prev.SetString("sslmode", "disable")
		}, "previous"},
		{"AWSPREVIOUS names a database that is gone", func(prev *rotator.Secret) {
			prev.SetString(rotator.FieldDBName, pgtest.UniqueName("gone"))
		}, "previous"},
		{"neither logs in", func(prev *rotator.Secret) {
			prev.SetString("sslmode", "disable")
		}, "neither"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user := pgtest.UniqueName("fallback")
			prevPW, curPW, serverPW := pgtest.RandomPassword(30), pgtest.RandomPassword(30), pgtest.RandomPassword(30)
			if tt.server == "previous" {
				serverPW = prevPW
			}
			pg.CreateRole(t, user, serverPW, "LOGIN")
			pg.Exec(t, "GRANT "+quoteIdent(group)+" TO "+quoteIdent(user))
			if err := plaintextLogin(pg, user, serverPW); err == nil || !containsFold(err.Error(), "pg_hba.conf rejects") {
				t.Fatalf("a plaintext login as the user was not refused by pg_hba.conf (%v): the test would prove nothing", err)
			}

			cur := pg.Secret(user, curPW)
			cur.Delete("ssl")
			cur.Delete("sslrootcert")
			cur.SetString("sslmode", "require")
			prev := cur.Clone()
			prev.SetString(rotator.FieldPassword, prevPW)
			tt.previous(prev)
			// AWSCURRENT holds a password the server does not have (as
			// after an admin's reset, or a restore from a snapshot), and
			// AWSPREVIOUS the one it has.
			r := newPGRig(t, pg, singleUser, prev)
			r.putCurrent(cur)
			r.seen = append(r.seen, curPW, serverPW)

			token := "fa11bacc-0000-4000-8000-00000000000" + string(rune('0'+i))
			r.beginRotation(token)
			if err := r.step("createSecret", token); err != nil {
				t.Fatal(err)
			}
			pending := r.valueAt(token)
			r.seen = append(r.seen, pending.Password())
			err := r.step("setSecret", token)

			if tt.server == "neither" {
				if err == nil {
					t.Fatal("setSecret succeeded with no password that logs in")
				}
				if !errors.Is(err, rotator.ErrLoginFailed) {
					t.Errorf("error %q does not wrap ErrLoginFailed", err)
				}
				var le *single.LoginError
				if !errors.As(err, &le) || le.Current == nil || le.Previous == nil || le.Pending == nil {
					t.Fatalf("error %q is not a LoginError naming the current, previous and pending failures", err)
				}
				msg := err.Error()
				for _, w := range []string{"current: ", "previous: ", "pending: "} {
					if !strings.Contains(msg, w) {
						t.Errorf("error %q does not say %q", msg, w)
					}
				}
				// The previous password was refused for being wrong, over
				// TLS: not by pg_hba.conf.
				if n := strings.Count(msg, "password authentication failed"); n != 3 {
					t.Errorf("error %q names %d password failures, want 3 (current, previous, pending)", msg, n)
				}
				if r.login(pg.Secret(user, serverPW)) != nil {
					t.Fatal("the server's password changed")
				}
				return
			}
			if err != nil {
				t.Fatalf("setSecret: %v", err)
			}
			if err := r.login(pending); err != nil {
				t.Fatalf("the pending password does not log in: %v", err)
			}
			if !strings.Contains(r.logs.String(), "with the previous password") {
				t.Error("the log does not say the previous password was used")
			}
			for _, step := range []string{"testSecret", "finishSecret"} {
				if err := r.step(step, token); err != nil {
					t.Fatalf("%s: %v", step, err)
				}
			}
		})
	}
}
