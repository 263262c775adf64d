package mysql

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/rotatorkit/rotator/rotator"
)

func TestMySQLParseSecret(t *testing.T) {
	ca := string(mustCA(t))
	tests := []struct {
		name   string
		fields map[string]any
		opts   []Option
		check  func(t *testing.T, tg *target)
		err    error
		field  string
	}{
		{name: "defaults: port 3306, no database, require without a CA", fields: map[string]any{}, check: func(t *testing.T, tg *target) {
			if tg.port != 3306 || tg.dbname != "" || tg.tls.Mode != SSLRequire || tg.userHost != "" {
				t.Fatalf("%+v", tg)
			}
		}},
		{name: "a CA bundle makes verify-full the default", opts: []Option{WithCABundle([]byte(ca))}, fields: map[string]any{}, check: func(t *testing.T, tg *target) {
			if tg.tls.Mode != SSLVerifyFull || tg.tls.Roots == nil {
				t.Fatalf("%+v", tg.tls)
			}
		}},
		{name: "ssl true is verify-full", fields: map[string]any{"ssl": true}, check: mode(SSLVerifyFull)},
		{name: "ssl \"false\" is disable", fields: map[string]any{"ssl": "false"}, check: mode(SSLDisable)},
		{name: "require with sslrootcert verifies the chain", fields: map[string]any{"sslmode": "require", "sslrootcert": ca}, check: mode(SSLVerifyCA)},
		{name: "ssl and sslmode disagree", fields: map[string]any{"ssl": true, "sslmode": "disable"}, err: rotator.ErrInvalidField, field: "ssl"},
		{name: "unknown sslmode", fields: map[string]any{"sslmode": "allow"}, err: rotator.ErrInvalidField, field: "sslmode"},
		{name: "sslrootcert is not PEM", fields: map[string]any{"sslrootcert": "/etc/ca.pem"}, err: rotator.ErrInvalidField, field: "sslrootcert"},
		{name: "channel_binding require: verify-full against the engine's bundle only", opts: []Option{WithCABundle([]byte(ca))},
			fields: map[string]any{"sslmode": "disable", "sslrootcert": string(mustCA(t)), "channel_binding": "require"}, check: func(t *testing.T, tg *target) {
				if tg.tls.Mode != SSLVerifyFull || !tg.tls.RequireBinding || !strings.Contains(tg.tls.RootsFrom, "function's CA bundle") {
					t.Fatalf("%+v", tg.tls)
				}
			}},
		{name: "channel_binding require without a bundle: no roots", fields: map[string]any{"channel_binding": "require", "sslrootcert": ca}, check: func(t *testing.T, tg *target) {
			if tg.tls.Roots != nil {
				t.Fatal("the secret's sslrootcert is trusted for a host-less master")
			}
		}},
		{name: "engine names", fields: map[string]any{"engine": "Aurora-MySQL"}, check: func(*testing.T, *target) {}},
		{name: "another engine", fields: map[string]any{"engine": "postgres"}, err: rotator.ErrWrongEngine},
		{name: "port as a string", fields: map[string]any{"port": "3307"}, check: func(t *testing.T, tg *target) {
			if tg.port != 3307 {
				t.Fatal(tg.port)
			}
		}},
		{name: "port out of range", fields: map[string]any{"port": 70000}, err: rotator.ErrInvalidField, field: "port"},
		{name: "userhost", fields: map[string]any{"userhost": "10.0.%"}, check: func(t *testing.T, tg *target) {
			if tg.userHost != "10.0.%" {
				t.Fatal(tg.userHost)
			}
		}},
		{name: "empty userhost", fields: map[string]any{"userhost": ""}, err: rotator.ErrInvalidField, field: "userhost"},
		{name: "a user name too long for MariaDB", fields: map[string]any{"username": strings.Repeat("u", 81)}, err: rotator.ErrInvalidField, field: "username"},
		{name: "a host list", fields: map[string]any{"host": "a,b"}, err: rotator.ErrInvalidField, field: "host"},
		{name: "missing password", fields: map[string]any{"password": nil}, err: rotator.ErrMissingField, field: "password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := map[string]any{"host": "db.example.com", "username": "app", "password": "pw"}
			for k, v := range tt.fields {
				if v == nil {
					delete(m, k)
					continue
				}
				m[k] = v
			}
			t.Setenv(EnvCABundle, "")
			t.Setenv("LAMBDA_TASK_ROOT", "")
			e := New(tt.opts...)
			tg, err := e.parse(secretOf(t, m))
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("want %v, got %v", tt.err, err)
				}
				var fe *rotator.FieldError
				if tt.field != "" && (!errors.As(err, &fe) || fe.Field != tt.field) {
					t.Fatalf("the error does not name %q: %v", tt.field, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, tg)
		})
	}
}

func mode(want string) func(t *testing.T, tg *target) {
	return func(t *testing.T, tg *target) {
		t.Helper()
		if tg.tls.Mode != want {
			t.Fatalf("mode %s, want %s", tg.tls.Mode, want)
		}
	}
}

func TestMySQLEngineConfig(t *testing.T) {
	t.Setenv(EnvSSLMode, "bogus")
	if _, err := NewFromEnv(); !errors.Is(err, ErrConfig) {
		t.Fatalf("a bad $%s is not a configuration error: %v", EnvSSLMode, err)
	}
	t.Setenv(EnvSSLMode, "")
	t.Setenv(EnvAllowCleartext, "maybe")
	if _, err := NewFromEnv(); !errors.Is(err, ErrConfig) {
		t.Fatalf("a bad $%s is not a configuration error: %v", EnvAllowCleartext, err)
	}
	t.Setenv(EnvAllowCleartext, "")
	if _, err := NewFromEnv(WithCABundle([]byte("not pem"))); !errors.Is(err, ErrConfig) {
		t.Fatal("a bundle without certificates is accepted")
	}
	var p rotator.PasswordPolicy
	New().PasswordPolicyDefaults(&p)
	if p.ExcludeCharacters != `/@"'\` {
		t.Fatalf("default exclusions %q", p.ExcludeCharacters)
	}
}

func TestMySQLServerVersion(t *testing.T) {
	tests := []struct {
		raw         string
		want        string
		dual, roles bool
		maxName     int
	}{
		{"5.5.5-10.11.19-MariaDB-0+deb12u1-log", "MariaDB 10.11.19", false, true, 80},
		{"11.4.2-MariaDB", "MariaDB 11.4.2", false, true, 80},
		{"8.0.36", "MySQL 8.0.36", true, true, 32},
		{"8.0.13-log", "MySQL 8.0.13", false, true, 32},
		{"9.1.0", "MySQL 9.1.0", true, true, 32},
		{"5.7.44-log", "MySQL 5.7.44", false, false, 32},
	}
	for _, tt := range tests {
		s := parseServerVersion(tt.raw)
		if s.String() != tt.want || s.dualPassword() != tt.dual || s.roles() != tt.roles || s.maxUserNameLength() != tt.maxName {
			t.Errorf("%q: %s dual %v roles %v max %d", tt.raw, s, s.dualPassword(), s.roles(), s.maxUserNameLength())
		}
	}
}

func TestMySQLQuoting(t *testing.T) {
	tests := []struct{ user, host, want string }{
		{"app", "%", "`app`@`%`"},
		{"a`b", "10.0.%", "`a``b`@`10.0.%`"},
		{`x'y"z\`, "h", "`x'y\"z\\`@`h`"},
	}
	for _, tt := range tests {
		got := account(tt.user, tt.host)
		if got != tt.want {
			t.Errorf("account(%q, %q) = %s, want %s", tt.user, tt.host, got, tt.want)
		}
		if u, h := unquoteAccount(got); u != tt.user || h != tt.host {
			t.Errorf("unquoteAccount(%s) = %q, %q", got, u, h)
		}
	}
	if u, h := splitAccount("a@b@127.0.0.1"); u != "a@b" || h != "127.0.0.1" {
		t.Errorf("splitAccount: %q %q", u, h)
	}
	if _, ok := sqlString(`a\b`); ok {
		t.Error("sqlString accepted a backslash")
	}
	if s, _ := sqlString("it's"); s != "'it''s'" {
		t.Errorf("sqlString: %s", s)
	}
}

func TestMySQLPasswordStatements(t *testing.T) {
	maria, mysql8 := parseServerVersion("10.11.19-MariaDB"), parseServerVersion("8.0.36")
	tests := []struct {
		server serverInfo
		plugin string
		want   string // prefix of the SET statement
		err    error
	}{
		{maria, pluginNative, "SET PASSWORD FOR `u`@`h` = '*", nil},
		{maria, pluginEd25519, "SET PASSWORD FOR `u`@`h` = '", nil},
		{mysql8, pluginNative, "ALTER USER `u`@`h` IDENTIFIED WITH mysql_native_password AS '*", nil},
		{mysql8, pluginCachingSHA2, "ALTER USER `u`@`h` IDENTIFIED WITH caching_sha2_password AS '$A$005$", nil},
		{maria, pluginCachingSHA2, "", ErrUnsupportedPlugin},
		{mysql8, pluginEd25519, "", ErrUnsupportedPlugin},
		{maria, "unix_socket", "", ErrUnsupportedPlugin},
		{mysql8, "sha256_password", "", ErrUnsupportedPlugin},
	}
	const pw = `every ' " \ character`
	for _, tt := range tests {
		hash, err := authString(tt.server, tt.plugin, pw)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("%s %s: want %v, got %v", tt.server, tt.plugin, tt.err, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		stmt, err := setPasswordSQL(tt.server, "`u`@`h`", tt.plugin, hash)
		if err != nil || !strings.HasPrefix(stmt, tt.want) || strings.Contains(stmt, pw) {
			t.Errorf("%s %s: %q %v", tt.server, tt.plugin, stmt, err)
		}
		create, err := createUserSQL(tt.server, "`u`@`h`", tt.plugin, hash)
		if err != nil || !strings.HasPrefix(create, "CREATE USER `u`@`h` IDENTIFIED ") {
			t.Errorf("%s %s: %q %v", tt.server, tt.plugin, create, err)
		}
	}
	if _, err := setPasswordSQL(maria, "`u`@`h`", pluginNative, "*' OR 1=1 --"); err == nil {
		t.Error("setPasswordSQL took a string that is not a hash")
	}
	if !strings.Contains(dualSetSQL, "RETAIN CURRENT PASSWORD") || !strings.Contains(dualSetSQL, "REPLACE ?") || strings.Count(dualSetSQL, "?") != 2 {
		t.Errorf("dual-password statement: %s", dualSetSQL)
	}
	if selfSetSQL != "ALTER USER USER() IDENTIFIED BY ? REPLACE ?" {
		t.Errorf("own password by value: %s", selfSetSQL)
	}
	if dualDiscardSQL != "ALTER USER USER() DISCARD OLD PASSWORD" {
		t.Errorf("discard statement: %s", dualDiscardSQL)
	}
}

func TestMySQLPluginOf(t *testing.T) {
	maria, mysql8 := parseServerVersion("10.11.19-MariaDB"), parseServerVersion("8.0.36")
	tests := []struct {
		server serverInfo
		create string
		want   string
		err    bool
	}{
		{maria, "CREATE USER `u`@`h` IDENTIFIED BY PASSWORD '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19' REQUIRE SSL", pluginNative, false},
		{maria, "CREATE USER `u`@`h` IDENTIFIED VIA ed25519 USING 'cIHY4EthNtvkqHNA20Baf5D5Q2QK1TyZ3uCknKn3L6U'", pluginEd25519, false},
		{maria, "CREATE USER `u`@`h`", pluginNative, false},
		{maria, "CREATE USER `u`@`h` IDENTIFIED VIA mysql_native_password USING '*AB' OR unix_socket", "", true},
		{mysql8, "CREATE USER `u`@`%` IDENTIFIED WITH 'caching_sha2_password' AS '$A$005$...' REQUIRE NONE PASSWORD EXPIRE DEFAULT", pluginCachingSHA2, false},
		{mysql8, "CREATE USER `u`@`%` IDENTIFIED WITH 'mysql_native_password' AS '*AB' REQUIRE NONE", pluginNative, false},
		{mysql8, "CREATE USER `u`@`%` REQUIRE NONE", "", true},
	}
	for _, tt := range tests {
		got, err := pluginOf(tt.server, tt.create)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("%s: %q, %v; want %q", tt.create, got, err, tt.want)
		}
	}
}

func TestMySQLGrantSync(t *testing.T) {
	base := []string{
		"GRANT USAGE ON *.* TO `b`@`h` IDENTIFIED BY PASSWORD '*AB' REQUIRE SSL WITH MAX_QUERIES_PER_HOUR 10",
		"GRANT SELECT, INSERT ON `d1`.* TO `b`@`h` WITH GRANT OPTION",
		"GRANT UPDATE (`a`, `b`), DELETE ON `d1`.`t` TO `b`@`h`",
		"GRANT EXECUTE ON PROCEDURE `d1`.`p` TO `b`@`h`",
		"GRANT `r1` TO `b`@`h` WITH ADMIN OPTION",
		"GRANT `r2`@`%`,`r3`@`%` TO `b`@`h`",
		"SET DEFAULT ROLE `r1` FOR `b`@`h`",
	}
	clone := []string{
		"GRANT USAGE ON *.* TO `c`@`h` IDENTIFIED BY PASSWORD '*CD'",
		"GRANT `rotator_clone` TO `c`@`h`",
		"GRANT SELECT ON `d1`.* TO `c`@`h`",
		"GRANT UPDATE (`a`, `c`) ON `d1`.`t` TO `c`@`h`",
		"GRANT SELECT ON `gone`.* TO `c`@`h` WITH GRANT OPTION",
		"GRANT `old` TO `c`@`h`",
	}
	b, err := parseGrants(base)
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseGrants(clone)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(b.defaultRoles, []string{"r1"}) || len(b.roles) != 3 || !b.roles[roleKey("r1", "")].admin {
		t.Fatalf("roles: %+v default %v", b.roles, b.defaultRoles)
	}
	var stmts []string
	for _, st := range syncStatements(b, c, "`c`@`h`", map[string]bool{roleKey("rotator_clone", ""): true}) {
		stmts = append(stmts, st[1])
	}
	want := []string{
		"REVOKE UPDATE (`c`) ON `d1`.`t` FROM `c`@`h`",
		"REVOKE SELECT ON `gone`.* FROM `c`@`h`",
		"REVOKE GRANT OPTION ON `gone`.* FROM `c`@`h`",
		"GRANT INSERT ON `d1`.* TO `c`@`h` WITH GRANT OPTION",
		"GRANT DELETE, UPDATE (`b`) ON `d1`.`t` TO `c`@`h`",
		"GRANT EXECUTE ON PROCEDURE `d1`.`p` TO `c`@`h`",
		"REVOKE `old` FROM `c`@`h`",
		"GRANT `r1` TO `c`@`h` WITH ADMIN OPTION",
		"GRANT `r2`@`%` TO `c`@`h`",
		"GRANT `r3`@`%` TO `c`@`h`",
	}
	slices.Sort(stmts)
	slices.Sort(want)
	if !slices.Equal(stmts, want) {
		t.Fatalf("statements:\n%s\nwant:\n%s", strings.Join(stmts, "\n"), strings.Join(want, "\n"))
	}
	// Nothing to do when they agree (the marker role aside).
	c2, _ := parseGrants(append([]string{"GRANT `rotator_clone` TO `c`@`h`"}, base...))
	if st := syncStatements(b, c2, "`c`@`h`", map[string]bool{roleKey("rotator_clone", ""): true}); len(st) != 0 {
		t.Fatalf("statements for identical grants: %v", st)
	}
}

func TestMySQLPowerful(t *testing.T) {
	tests := []struct {
		grant string
		bad   bool
	}{
		{"GRANT SELECT, INSERT, UPDATE, DELETE ON `app`.* TO `u`@`h`", false},
		{"GRANT SELECT ON *.* TO `u`@`h`", false},
		{"GRANT SUPER ON *.* TO `u`@`h`", true},
		{"GRANT CREATE USER ON *.* TO `u`@`h`", true},
		{"GRANT ALL PRIVILEGES ON *.* TO `u`@`h`", true},
		{"GRANT SELECT ON *.* TO `u`@`h` WITH GRANT OPTION", true},
		{"GRANT INSERT ON *.* TO `u`@`h`", true},
		{"GRANT SELECT ON `mysql`.* TO `u`@`h`", true},
		{"GRANT SELECT ON `mysql`.`user` TO `u`@`h`", true},
		{"GRANT SELECT ON `mysql_app`.* TO `u`@`h`", false},
		{"GRANT PROXY ON ''@'%' TO `u`@`h`", true},
		{"GRANT BINLOG ADMIN ON *.* TO `u`@`h`", true},
		{"GRANT SYSTEM_USER,ROLE_ADMIN ON *.* TO `u`@`h`", true},
		{"GRANT SELECT ON `app`.* TO `u`@`h` WITH GRANT OPTION", false},
	}
	for _, tt := range tests {
		g, err := parseGrants([]string{tt.grant})
		if err != nil {
			t.Fatal(err)
		}
		if got := powerful(g) != ""; got != tt.bad {
			t.Errorf("%s: powerful %v (%q), want %v", tt.grant, got, powerful(g), tt.bad)
		}
	}
}

func TestMySQLResponsePlugin(t *testing.T) {
	p := make([]byte, 32)
	p[0] = capConnectWithDB
	p = append(p, "app\x00"...)
	p = append(p, 3, 'x', 'y', 'z')
	p = append(p, "db\x00caching_sha2_password\x00"...)
	if got := responsePlugin(p); got != "caching_sha2_password" {
		t.Fatalf("responsePlugin = %q", got)
	}
}
