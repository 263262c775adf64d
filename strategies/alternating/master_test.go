package alternating

import (
	"errors"
	"testing"

	"github.com/rotatorkit/rotator/rotator"
)

func secretFrom(t *testing.T, js string) *rotator.Secret {
	t.Helper()
	s, err := rotator.ParseSecret(js)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestMasterTLSAtLeastAsStrict: the master connects with TLS settings at
// least as strict as the current secret's.
func TestMasterTLSAtLeastAsStrict(t *testing.T) {
	const base = `"host":"db","username":"app","password":"p"`
	tests := []struct {
		name        string
		cur, master string // extra JSON fields
		// want: the master's TLS fields after the merge ("-" : absent).
		ssl, sslmode, rootcert string
	}{
		{name: "RDS-managed master: the current's fields travel with the host",
			cur: `"ssl":true,"sslrootcert":"CUR"`, master: ``, ssl: `true`, sslmode: "-", rootcert: `"CUR"`},
		{name: "neither sets a mode: the engine's default for both",
			cur: ``, master: ``, ssl: "-", sslmode: "-", rootcert: "-"},
		{name: "weaker master sslmode is raised to the current's",
			cur: `"sslmode":"verify-full"`, master: `"sslmode":"require"`, ssl: "-", sslmode: `"verify-full"`, rootcert: "-"},
		{name: "weaker master ssl false is replaced by the current's mode",
			cur: `"sslmode":"require"`, master: `"ssl":false`, ssl: "-", sslmode: `"require"`, rootcert: "-"},
		{name: "current ssl true means verify-full",
			cur: `"ssl":"true","sslrootcert":"CUR"`, master: `"sslmode":"verify-ca"`, ssl: "-", sslmode: `"verify-full"`, rootcert: `"CUR"`},
		{name: "disable < prefer",
			cur: `"sslmode":"prefer"`, master: `"sslmode":"disable"`, ssl: "-", sslmode: `"prefer"`, rootcert: "-"},
		{name: "prefer < require",
			cur: `"sslmode":"require"`, master: `"sslmode":"prefer"`, ssl: "-", sslmode: `"require"`, rootcert: "-"},
		{name: "require < verify-ca",
			cur: `"sslmode":"verify-ca"`, master: `"sslmode":"require"`, ssl: "-", sslmode: `"verify-ca"`, rootcert: "-"},
		{name: "stricter master keeps its own",
			cur: `"sslmode":"require"`, master: `"sslmode":"verify-full"`, ssl: "-", sslmode: `"verify-full"`, rootcert: "-"},
		{name: "stricter master ssl true keeps its own",
			cur: `"sslmode":"disable"`, master: `"ssl":true`, ssl: `true`, sslmode: "-", rootcert: "-"},
		{name: "equal modes: the master's own",
			cur: `"sslmode":"VERIFY-CA"`, master: `"sslmode":"verify-ca","sslrootcert":"M"`, ssl: "-", sslmode: `"verify-ca"`, rootcert: `"M"`},
		{name: "the master's own CA wins over the current's",
			cur: `"sslmode":"verify-full","sslrootcert":"CUR"`, master: `"sslmode":"require","sslrootcert":"M"`, ssl: "-", sslmode: `"verify-full"`, rootcert: `"M"`},
		{name: "the current's CA when the master has none",
			cur: `"sslmode":"verify-full","sslrootcert":"CUR"`, master: `"sslmode":"disable"`, ssl: "-", sslmode: `"verify-full"`, rootcert: `"CUR"`},
		{name: "a null master sslmode counts as missing",
			cur: `"sslmode":"verify-full"`, master: `"sslmode":null`, ssl: "-", sslmode: `"verify-full"`, rootcert: "-"},
		{name: "current sets no mode: the master's explicit one stands",
			cur: ``, master: `"sslmode":"prefer"`, ssl: "-", sslmode: `"prefer"`, rootcert: "-"},
		{name: "an unreadable master mode is left for validation to refuse",
			cur: `"sslmode":"verify-full"`, master: `"sslmode":"bogus"`, ssl: "-", sslmode: `"bogus"`, rootcert: "-"},
	}
	field := func(s *rotator.Secret, f string) string {
		raw, ok := s.Raw(f)
		if !ok {
			return "-"
		}
		return string(raw)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			join := func(extra string) string {
				if extra == "" {
					return "{" + base + "}"
				}
				return "{" + base + "," + extra + "}"
			}
			cur := secretFrom(t, join(tt.cur))
			master := secretFrom(t, `{"username":"admin","password":"mp"`+map[bool]string{true: "", false: "," + tt.master}[tt.master == ""]+`}`)
			before, _ := master.Value()
			m := withConnection(master, cur)
			if got := field(m, fieldSSL); got != tt.ssl {
				t.Errorf("ssl = %s, want %s", got, tt.ssl)
			}
			if got := field(m, fieldSSLMode); got != tt.sslmode {
				t.Errorf("sslmode = %s, want %s", got, tt.sslmode)
			}
			if got := field(m, fieldSSLRootCert); got != tt.rootcert {
				t.Errorf("sslrootcert = %s, want %s", got, tt.rootcert)
			}
			if after, _ := master.Value(); after != before {
				t.Error("the master secret given was modified")
			}
			// The merged mode is never weaker than either side's own.
			if cm, ok := tlsMode(cur); ok {
				if mm, ok := tlsMode(m); ok && tlsRank[mm] < tlsRank[cm] {
					t.Errorf("master mode %s is weaker than the current's %s", mm, cm)
				}
			}
		})
	}
}

// TestCheckMaster: a master secret is used only for the current secret's
// own server, and never when it is an application's secret.
func TestCheckMaster(t *testing.T) {
	plan := Plan{Current: "app", Next: "app_clone", Clone: true, Base: "app", CloneName: "app_clone"}
	named := Plan{Current: "app", Next: "other", Named: true}
	tests := []struct {
		name   string
		cur    string
		master string
		plan   Plan
		field  string // "" : accepted
		is     error
	}{
		{name: "RDS-managed master: host and port filled",
			cur: `{"host":"db.example.com","port":5432,"username":"app","password":"p"}`, master: `{"username":"admin","password":"m"}`, plan: plan},
		{name: "same host in another case",
			cur: `{"host":"DB.example.com","port":5432,"username":"app","password":"p"}`, master: `{"host":"db.EXAMPLE.com","port":"5432","username":"admin","password":"m"}`, plan: plan},
		{name: "port missing means 5432",
			cur: `{"host":"db","username":"app","password":"p"}`, master: `{"host":"db","port":5432,"username":"admin","password":"m"}`, plan: plan},
		{name: "port missing on both sides",
			cur: `{"host":"db","username":"app","password":"p"}`, master: `{"host":"db","username":"admin","password":"m"}`, plan: plan},
		{name: "another host",
			cur: `{"host":"db","port":5432,"username":"app","password":"p"}`, master: `{"host":"db2","port":5432,"username":"admin","password":"m"}`, plan: plan,
			field: rotator.FieldMasterARN, is: rotator.ErrNotAllowed},
		{name: "another port",
			cur: `{"host":"db","port":5432,"username":"app","password":"p"}`, master: `{"host":"db","port":5433,"username":"admin","password":"m"}`, plan: plan,
			field: rotator.FieldMasterARN, is: rotator.ErrNotAllowed},
		{name: "another port, the current's missing",
			cur: `{"host":"db","username":"app","password":"p"}`, master: `{"host":"db","port":"6432","username":"admin","password":"m"}`, plan: plan,
			field: rotator.FieldMasterARN, is: rotator.ErrNotAllowed},
		{name: "an application's secret: it has a masterarn",
			cur: `{"host":"db","username":"app","password":"p"}`, master: `{"username":"other","password":"m","masterarn":"x"}`, plan: plan,
			field: rotator.FieldMasterARN, is: rotator.ErrNotAllowed},
		{name: "an application's secret: the current user's",
			cur: `{"host":"db","username":"app","password":"p"}`, master: `{"username":"app","password":"m"}`, plan: plan,
			field: rotator.FieldMasterARN, is: rotator.ErrNotAllowed},
		{name: "an application's secret: the clone's",
			cur: `{"host":"db","username":"app","password":"p"}`, master: `{"username":"app_clone","password":"m"}`, plan: plan,
			field: rotator.FieldMasterARN, is: rotator.ErrNotAllowed},
		{name: "the second user is the master's own",
			cur: `{"host":"db","username":"app","password":"p"}`, master: `{"username":"other","password":"m"}`, plan: named,
			field: FieldAlternateUsername, is: rotator.ErrNotAllowed},
		{name: "a bad master port",
			cur: `{"host":"db","username":"app","password":"p"}`, master: `{"host":"db","port":"x","username":"admin","password":"m"}`, plan: plan,
			field: rotator.FieldPort, is: rotator.ErrInvalidField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := MasterConnection(secretFrom(t, tt.master), secretFrom(t, tt.cur), tt.plan)
			if tt.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				if m.Host() == "" {
					t.Fatal("no host")
				}
				return
			}
			var fe *rotator.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field || !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want one naming %q and wrapping %v", err, tt.field, tt.is)
			}
		})
	}
}

func TestCheckMasterARN(t *testing.T) {
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf"
	if err := CheckMasterARN(arn, arn); !errors.Is(err, rotator.ErrSelfReference) {
		t.Fatalf("same ARN: %v", err)
	}
	var fe *rotator.FieldError
	if err := CheckMasterARN(arn, arn); !errors.As(err, &fe) || fe.Field != rotator.FieldMasterARN {
		t.Fatalf("does not name masterarn: %v", err)
	}
	for _, other := range []string{"", "arn:aws:secretsmanager:us-east-1:123456789012:secret:master-AbCdEf"} {
		if err := CheckMasterARN(arn, other); err != nil {
			t.Fatalf("%q: %v", other, err)
		}
	}
	if err := CheckMasterARN("", ""); err != nil {
		t.Fatalf("unknown ARNs: %v", err)
	}
}

// A master secret without a host of its own connects where the current
// secret says, so it must bind its login to the channel; one with its own
// host is used as its owner wrote it.
func TestMasterWithoutHostRequiresChannelBinding(t *testing.T) {
	cur, _ := rotator.ParseSecret(`{"host":"db","port":5432,"username":"app","password":"p","sslmode":"disable"}`)
	for _, tc := range []struct {
		master string
		want   bool
	}{
		{`{"username":"admin","password":"m"}`, true},
		{`{"host":"db","username":"admin","password":"m"}`, false},
	} {
		m, _ := rotator.ParseSecret(tc.master)
		got, _ := m.String(FieldChannelBinding)
		if got != "" {
			t.Fatal("set-up: the master already has the field")
		}
		got, _ = withConnection(m, cur).String(FieldChannelBinding)
		if (got == "require") != tc.want {
			t.Errorf("master %s: channel_binding %q, want require %v", tc.master, got, tc.want)
		}
	}
}
