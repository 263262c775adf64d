package postgres

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rotatorkit/rotator/internal/pgtest"
	"github.com/rotatorkit/rotator/rotator"
)

func TestPostgresLogin(t *testing.T) {
	s := pgtest.Shared(t)
	e, _ := newEngine(t)
	ctx := ctxT(t)
	user, pw := pgtest.UniqueName("login"), pgtest.RandomPassword(32)
	s.CreateRole(t, user, pw, "LOGIN")
	nologin := pgtest.UniqueName("nologin")
	s.CreateRole(t, nologin, pw)

	cases := []struct {
		name   string
		secret *rotator.Secret
		want   []error
	}{
		{"ok", s.Secret(user, pw), nil},
		{"port as a string", with(t, s.Secret(user, pw), map[string]any{"port": strconv.Itoa(s.Port)}), nil},
		{"engine postgresql", with(t, s.Secret(user, pw), map[string]any{"engine": "postgresql"}), nil},
		{"wrong password", s.Secret(user, pw+"x"), []error{rotator.ErrLoginFailed}},
		{"unknown role", s.Secret(pgtest.UniqueName("nobody"), pw), []error{rotator.ErrLoginFailed}},
		{"role without LOGIN", s.Secret(nologin, pw), []error{rotator.ErrLoginFailed}},
		{"unknown database", with(t, s.Secret(user, pw), map[string]any{"dbname": "no_such_db"}), []error{rotator.ErrInvalidField}},
		{"wrong engine", with(t, s.Secret(user, pw), map[string]any{"engine": "mysql"}), []error{rotator.ErrWrongEngine}},
		{"missing password", with(t, s.Secret(user, pw), map[string]any{"password": del}), []error{rotator.ErrMissingField}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := e.Login(ctx, c.secret)
			wantErr(t, err, c.want...)
			noSecrets(t, err, pw, pw+"x")
			if err != nil {
				t.Logf("error: %v", err)
			}
		})
	}
}

// storedPassword reads pg_authid.rolpassword (superuser only).
func storedPassword(t *testing.T, s *pgtest.Server, role string) string {
	t.Helper()
	return queryString(t, s, s.SuperUser, s.SuperPassword, "SELECT coalesce(rolpassword, '') FROM pg_authid WHERE rolname = $1", role)
}

func TestPostgresSetPassword(t *testing.T) {
	s := pgtest.Shared(t)
	e, _ := newEngine(t)
	ctx := ctxT(t)
	master, masterPW := pgtest.UniqueName("master"), pgtest.RandomPassword(24)
	s.CreateRole(t, master, masterPW, "LOGIN", "CREATEROLE")

	t.Run("own password", func(t *testing.T) {
		user, old, next := pgtest.UniqueName("single"), pgtest.RandomPassword(32), pgtest.RandomPassword(32)
		s.CreateRole(t, user, old, "LOGIN")
		err := e.SetPassword(ctx, rotator.SetPasswordRequest{Conn: s.Secret(user, old), Username: user, Password: next})
		wantErr(t, err)
		wantErr(t, e.Login(ctx, s.Secret(user, old)), rotator.ErrLoginFailed)
		wantErr(t, e.Login(ctx, s.Secret(user, next)))
		if got := storedPassword(t, s, user); !strings.HasPrefix(got, "SCRAM-SHA-256$4096:") {
			t.Fatalf("stored password has the form %.20s...", got)
		}
	})
	t.Run("by the master", func(t *testing.T) {
		user, old, next := pgtest.UniqueName("other"), pgtest.RandomPassword(32), pgtest.RandomPassword(32)
		s.CreateRole(t, user, old, "LOGIN")
		allowManage(t, s, master, user)
		wantErr(t, e.SetPassword(ctx, rotator.SetPasswordRequest{Conn: s.Secret(master, masterPW), Username: user, Password: next}))
		wantErr(t, e.Login(ctx, s.Secret(user, old)), rotator.ErrLoginFailed)
		wantErr(t, e.Login(ctx, s.Secret(user, next)))
	})
	t.Run("no such role", func(t *testing.T) {
		next := pgtest.RandomPassword(32)
		err := e.SetPassword(ctx, rotator.SetPasswordRequest{Conn: s.Secret(master, masterPW), Username: "no_such_role_x", Password: next})
		wantErr(t, err, ErrNoSuchRole)
		noSecrets(t, err, next, masterPW)
	})
	t.Run("not allowed", func(t *testing.T) {
		a, b := pgtest.UniqueName("peer_a"), pgtest.UniqueName("peer_b")
		pa, pb, next := pgtest.RandomPassword(20), pgtest.RandomPassword(20), pgtest.RandomPassword(32)
		s.CreateRole(t, a, pa, "LOGIN")
		s.CreateRole(t, b, pb, "LOGIN")
		err := e.SetPassword(ctx, rotator.SetPasswordRequest{Conn: s.Secret(a, pa), Username: b, Password: next})
		wantErr(t, err, rotator.ErrPermission)
		noSecrets(t, err, next, pa)
		wantErr(t, e.Login(ctx, s.Secret(b, pb)))
	})
	t.Run("bad requests", func(t *testing.T) {
		conn := s.Secret(master, masterPW)
		for _, r := range []rotator.SetPasswordRequest{
			{Conn: conn, Username: "", Password: "x"},
			{Conn: conn, Username: strings.Repeat("x", 64), Password: "x"},
			{Conn: conn, Username: "x", Password: ""},
			{Conn: conn, Username: "x", Password: "naïve"},
		} {
			err := e.SetPassword(ctx, r)
			var fe *rotator.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("%q/%q: error %v is not a FieldError", r.Username, r.Password, err)
			}
		}
	})
}

// TestPostgresPasswordCharacters: every printable ASCII character, and
// strings built to break out of literals, on SCRAM and md5 servers.
func TestPostgresPasswordCharacters(t *testing.T) {
	var printable strings.Builder
	for c := byte(' '); c <= '~'; c++ {
		printable.WriteByte(c)
	}
	passwords := []string{
		printable.String(),
		`'; DROP ROLE postgres; --`,
		`\'; SELECT 1; --`,
		`$$; SELECT 1; $$`,
		`E'\x41'`,
		`  leading and trailing spaces  `,
		`"double" and 'single' and \back\slash`,
		"tab\there",
	}
	for _, enc := range []string{"scram-sha-256", "md5"} {
		t.Run(enc, func(t *testing.T) {
			s := pgtest.Shared(t, pgtest.WithPasswordEncryption(enc))
			// md5 logins and verifiers need the operator's opt-in.
			e, _ := newEngine(t, WithAllowMD5(enc == "md5"))
			ctx := ctxT(t)
			user, first := pgtest.UniqueName("chars"), pgtest.RandomPassword(20)
			s.CreateRole(t, user, first, "LOGIN")
			current := first
			for _, pw := range passwords {
				err := e.SetPassword(ctx, rotator.SetPasswordRequest{Conn: s.Secret(user, current), Username: user, Password: pw})
				noSecrets(t, err, pw, current)
				wantErr(t, err)
				wantErr(t, e.Login(ctx, s.Secret(user, pw)))
				wantErr(t, e.Login(ctx, s.Secret(user, current)), rotator.ErrLoginFailed)
				// A plain pgx client (not the engine) logs in too.
				s.Conn(t, user, pw, "")
				current = pw
			}
			stored := storedPassword(t, s, user)
			if enc == "md5" {
				if stored != md5Verifier(user, current) {
					t.Fatalf("stored %.8s..., want the md5 form", stored)
				}
			} else if !strings.HasPrefix(stored, "SCRAM-SHA-256$") {
				t.Fatalf("stored %.8s..., want SCRAM", stored)
			}
		})
	}
}

// snapshot is the state of the server that must not change except for
// the target role's password.
func snapshot(t *testing.T, s *pgtest.Server) map[string]string {
	t.Helper()
	ctx := context.Background()
	c := s.Admin(t)
	out := map[string]string{}
	for _, q := range []string{
		`SELECT 'role ' || rolname, concat_ws(' ', rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls, rolconnlimit, rolvaliduntil, coalesce(rolpassword, '<null>')) FROM pg_authid`,
		`SELECT 'table ' || schemaname || '.' || tablename, tableowner FROM pg_tables`,
		`SELECT 'database ' || datname, concat_ws(' ', datdba, datallowconn, datacl) FROM pg_database`,
		`SELECT 'setting ' || setrole || '/' || setdatabase, array_to_string(setconfig, ',') FROM pg_db_role_setting`,
		`SELECT 'member ' || roleid || '/' || member, concat_ws(' ', grantor, admin_option) FROM pg_auth_members`,
		`SELECT 'schema ' || nspname, concat_ws(' ', nspowner, nspacl) FROM pg_namespace`,
	} {
		rows, err := c.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var k, v string
			if err := rows.Scan(&k, &v); err != nil {
				t.Fatal(err)
			}
			out[k] = v
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestPostgresRoleNamesNeedingQuotes(t *testing.T) {
	s := pgtest.Start(t) // its own server: the snapshot covers the whole cluster
	e, _ := newEngine(t)
	ctx := ctxT(t)
	names := []string{
		`App "User"; DROP`,
		`x'; DROP ROLE postgres; --`,
		`back\slash`,
		`MixedCase`,
		` leading space`,
		`ünïcödé`,
		`$1`,
		`a.b`,
		`"`,
		`postgres"; ALTER ROLE "postgres`,
	}
	for _, name := range names {
		s.CreateRole(t, name, "initial", "LOGIN")
	}
	// A decoy whose name is what naive quoting would produce.
	s.CreateRole(t, "App", "decoy", "LOGIN")
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			before := snapshot(t, s)
			pw := pgtest.RandomPassword(32)
			wantErr(t, e.SetPassword(ctx, rotator.SetPasswordRequest{Conn: s.Secret(s.SuperUser, s.SuperPassword), Username: name, Password: pw}))
			wantErr(t, e.Login(ctx, s.Secret(name, pw)))
			wantErr(t, e.Login(ctx, s.Secret(name, "initial")), rotator.ErrLoginFailed)
			after := snapshot(t, s)
			key := "role " + name
			if before[key] == after[key] {
				t.Fatal("the role's password did not change")
			}
			delete(before, key)
			delete(after, key)
			for k, v := range before {
				if after[k] != v {
					t.Errorf("%s changed: %q -> %q", k, v, after[k])
				}
			}
			for k := range after {
				if _, ok := before[k]; !ok {
					t.Errorf("%s appeared", k)
				}
			}
		})
	}
	wantErr(t, e.Login(ctx, s.Secret("App", "decoy")))
}

func TestPostgresServerLogHoldsNoPlaintext(t *testing.T) {
	for _, enc := range []string{"scram-sha-256", "md5"} {
		t.Run(enc, func(t *testing.T) {
			s := pgtest.Shared(t, pgtest.WithPasswordEncryption(enc))
			s.ReadLog(t) // skips where the log is not available
			e, _ := newEngine(t, WithAllowMD5(enc == "md5"))
			ctx := ctxT(t)
			user, old := pgtest.UniqueName("logged"), pgtest.RandomPassword(40)
			s.CreateRole(t, user, old, "LOGIN")
			next := pgtest.RandomPassword(40)
			wantErr(t, e.SetPassword(ctx, rotator.SetPasswordRequest{Conn: s.Secret(user, old), Username: user, Password: next}))
			wantErr(t, e.Login(ctx, s.Secret(user, next)))

			master, masterPW := pgtest.UniqueName("logmaster"), pgtest.RandomPassword(40)
			s.CreateRole(t, master, masterPW, "LOGIN", "CREATEROLE")
			allowManage(t, s, master, user)
			twin, twinPW := pgtest.UniqueName("logtwin"), pgtest.RandomPassword(40)
			if _, err := e.EnsureUser(ctx, rotator.EnsureUserRequest{Conn: s.Secret(master, masterPW), Username: twin, Password: twinPW, Template: user}); err != nil {
				t.Fatal(err)
			}
			wantErr(t, e.Login(ctx, s.Secret(twin, twinPW)))

			log := s.WaitLog(t, "CREATE ROLE "+pgx.Identifier{twin}.Sanitize())
			// The log does record statements, and the verifier went there.
			if !strings.Contains(log, "ALTER ROLE "+pgx.Identifier{user}.Sanitize()+" WITH PASSWORD") {
				t.Fatal("the server log has no ALTER ROLE statement: is log_statement=all on?")
			}
			if !strings.Contains(log, "CREATE ROLE "+pgx.Identifier{twin}.Sanitize()) {
				t.Fatal("the server log has no CREATE ROLE statement")
			}
			wantForm := "SCRAM-SHA-256$4096:"
			if enc == "md5" {
				wantForm = "PASSWORD 'md5"
			}
			if !strings.Contains(log, wantForm) {
				t.Fatalf("the server log has no %s verifier", wantForm)
			}
			for _, pw := range []string{old, next, masterPW, twinPW} {
				if strings.Contains(log, pw) {
					t.Fatal("the server log holds a plaintext password")
				}
			}
		})
	}
}

// tlsState connects through the engine and reports whether the
// connection uses TLS, as the client and the server see it.
func tlsState(t *testing.T, e *Engine, sec *rotator.Secret) (bool, error) {
	t.Helper()
	tg, err := e.parse(sec)
	if err != nil {
		return false, err
	}
	conn, err := e.connect(ctxT(t), "test", tg)
	if err != nil {
		return false, err
	}
	defer closeConn(conn)
	_, client := conn.PgConn().Conn().(*tls.Conn)
	var server bool
	if err := conn.QueryRow(context.Background(), "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&server); err != nil {
		t.Fatal(err)
	}
	if client != server {
		t.Fatalf("client says TLS=%v, server says %v", client, server)
	}
	return client, nil
}

func TestPostgresTLS(t *testing.T) {
	tlsSrv := pgtest.Shared(t, pgtest.WithTLS())
	plain := pgtest.Shared(t)
	otherName := pgtest.Shared(t, pgtest.WithTLSHosts("db.rotator.invalid"))
	wrongCA := string(pgtest.NewCAPEM(t))

	type server struct {
		s        *pgtest.Server
		user, pw string
	}
	mk := func(s *pgtest.Server) server {
		u, p := pgtest.UniqueName("tls"), pgtest.RandomPassword(24)
		s.CreateRole(t, u, p, "LOGIN")
		return server{s, u, p}
	}
	T, P, O := mk(tlsSrv), mk(plain), mk(otherName)
	secret := func(sv server, fields map[string]any) *rotator.Secret {
		// Start from no TLS fields at all.
		base := with(t, sv.s.Secret(sv.user, sv.pw), map[string]any{"ssl": del, "sslrootcert": del})
		return with(t, base, fields)
	}
	ca := string(tlsSrv.CAPEM)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, tlsSrv.CAPEM, 0o600); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name    string
		sv      server
		fields  map[string]any
		opts    []Option
		env     string // $ROTATOR_PG_CA_BUNDLE
		want    []error
		wantTLS bool
		inMsg   string
	}{
		{name: "verify-full with the CA in the secret", sv: T, fields: map[string]any{"sslmode": "verify-full", "sslrootcert": ca}, wantTLS: true},
		{name: "ssl true with the CA in the secret", sv: T, fields: map[string]any{"ssl": true, "sslrootcert": ca}, wantTLS: true},
		{name: "verify-full with the wrong CA", sv: T, fields: map[string]any{"sslmode": "verify-full", "sslrootcert": wrongCA}, want: []error{rotator.ErrUnreachable, ErrCertificate}, inMsg: "certificate"},
		{name: "ssl true against system roots", sv: T, fields: map[string]any{"ssl": true}, want: []error{rotator.ErrUnreachable, ErrCertificate}, inMsg: "system roots"},
		{name: "sslrootcert system", sv: T, fields: map[string]any{"sslrootcert": "system"}, want: []error{rotator.ErrUnreachable, ErrCertificate}},
		{name: "verify-full with the engine's CA bundle", sv: T, fields: map[string]any{"sslmode": "verify-full"}, opts: []Option{WithCABundle(tlsSrv.CAPEM)}, wantTLS: true},
		{name: "verify-full with the CA bundle from the environment", sv: T, fields: map[string]any{"sslmode": "verify-full"}, env: caFile, wantTLS: true},
		{name: "the secret's CA wins over the engine's", sv: T, fields: map[string]any{"sslmode": "verify-full", "sslrootcert": wrongCA}, opts: []Option{WithCABundle(tlsSrv.CAPEM)}, want: []error{ErrCertificate}},
		{name: "default with a CA bundle is verify-full", sv: T, opts: []Option{WithCABundle([]byte(wrongCA))}, want: []error{ErrCertificate}},
		{name: "default without a CA is require", sv: T, wantTLS: true},
		{name: "require against a TLS server", sv: T, fields: map[string]any{"sslmode": "require"}, wantTLS: true},
		{name: "require with a wrong CA in the secret verifies the chain", sv: T, fields: map[string]any{"sslmode": "require", "sslrootcert": wrongCA}, want: []error{ErrCertificate}},
		{name: "prefer against a TLS server", sv: T, fields: map[string]any{"sslmode": "prefer"}, wantTLS: true},
		{name: "disable against a TLS server", sv: T, fields: map[string]any{"sslmode": "disable"}, wantTLS: false},
		{name: "require against a server without TLS", sv: P, fields: map[string]any{"sslmode": "require"}, want: []error{rotator.ErrUnreachable, ErrServerNoTLS}, inMsg: "no fallback to plaintext"},
		{name: "ssl true against a server without TLS", sv: P, fields: map[string]any{"ssl": true}, want: []error{rotator.ErrUnreachable, ErrServerNoTLS}, inMsg: `"ssl": true`},
		{name: "verify-full against a server without TLS", sv: P, fields: map[string]any{"sslmode": "verify-full", "sslrootcert": ca}, want: []error{ErrServerNoTLS}},
		{name: "default against a server without TLS", sv: P, want: []error{ErrServerNoTLS}, inMsg: "does not support TLS"},
		{name: "prefer falls back to plaintext", sv: P, fields: map[string]any{"sslmode": "prefer"}, wantTLS: false},
		{name: "ssl false", sv: P, fields: map[string]any{"ssl": false}, wantTLS: false},
		{name: "verify-full with a certificate for another name", sv: O, fields: map[string]any{"sslmode": "verify-full", "sslrootcert": string(otherName.CAPEM)}, want: []error{ErrCertificate}, inMsg: "127.0.0.1"},
		{name: "verify-ca with a certificate for another name", sv: O, fields: map[string]any{"sslmode": "verify-ca", "sslrootcert": string(otherName.CAPEM)}, wantTLS: true},
		{name: "verify-ca with the wrong CA", sv: O, fields: map[string]any{"sslmode": "verify-ca", "sslrootcert": wrongCA}, want: []error{ErrCertificate}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, logs := newEngine(t, c.opts...)
			if c.env != "" {
				t.Setenv(EnvCABundle, c.env)
				e = New(append([]Option{WithLogger(e.cfg.Log)}, c.opts...)...)
			}
			sec := secret(c.sv, c.fields)
			gotTLS, err := tlsState(t, e, sec)
			wantErr(t, err, c.want...)
			noSecrets(t, err, c.sv.pw)
			if err != nil {
				t.Logf("error: %v", err)
				if c.inMsg != "" && !strings.Contains(err.Error(), c.inMsg) {
					t.Fatalf("error %q does not say %q", err, c.inMsg)
				}
				// Login says the same.
				wantErr(t, e.Login(ctxT(t), sec), c.want...)
				return
			}
			if gotTLS != c.wantTLS {
				t.Fatalf("TLS = %v, want %v", gotTLS, c.wantTLS)
			}
			wantErr(t, e.Login(ctxT(t), sec))
			if c.fields["sslmode"] == "prefer" && !gotTLS && !strings.Contains(logs.String(), "without TLS") {
				t.Fatal("no warning logged for the plaintext fallback")
			}
		})
	}
}

func TestPostgresUnreachable(t *testing.T) {
	ctx := ctxT(t)
	sec := func(host string, port int) *rotator.Secret {
		return with(t, rotator.NewSecret(nil), map[string]any{
			"engine": "postgres", "host": host, "port": port, "username": "u", "password": "hunter2-secret", "ssl": false,
		})
	}

	t.Run("closed port", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		e, _ := newEngine(t)
		start := time.Now()
		err = e.Login(ctx, sec("127.0.0.1", port))
		wantErr(t, err, rotator.ErrUnreachable)
		noSecrets(t, err, "hunter2-secret")
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("took %v", d)
		}
		t.Logf("error: %v", err)
	})

	t.Run("server that never answers", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() {
			var held []net.Conn
			defer func() {
				for _, c := range held {
					c.Close()
				}
			}()
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				held = append(held, c)
			}
		}()
		e, _ := newEngine(t, WithConnectTimeout(300*time.Millisecond))
		start := time.Now()
		err = e.Login(ctx, sec("127.0.0.1", l.Addr().(*net.TCPAddr).Port))
		d := time.Since(start)
		wantErr(t, err, rotator.ErrUnreachable)
		noSecrets(t, err, "hunter2-secret")
		if d < 250*time.Millisecond || d > 3*time.Second {
			t.Fatalf("took %v with a 300ms connect timeout", d)
		}
		if !strings.Contains(err.Error(), "timeout") {
			t.Fatalf("error %q does not mention the timeout", err)
		}
	})

	t.Run("unknown host", func(t *testing.T) {
		e, _ := newEngine(t, WithConnectTimeout(2*time.Second))
		err := e.Login(ctx, sec("rotator-no-such-host.invalid", 5432))
		wantErr(t, err, rotator.ErrUnreachable)
		noSecrets(t, err, "hunter2-secret")
		t.Logf("error: %v", err)
	})
}
