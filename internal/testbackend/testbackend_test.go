package testbackend

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]Backend{
		"": Any, " ": Any, "containers": Containers, "container": Containers, "Containers": Containers,
		"local": Local, "LOCAL": Local, "dsn": DSN,
	} {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := Parse("docker"); err == nil {
		t.Error("Parse(docker) accepted")
	}
}

func TestFromEnvAndImage(t *testing.T) {
	t.Setenv(EnvBackend, "cloud")
	if _, err := FromEnv(); err == nil {
		t.Fatal("FromEnv accepted ROTATOR_TEST_BACKEND=cloud")
	}
	t.Setenv(EnvBackend, "containers")
	if b, err := FromEnv(); err != nil || b != Containers {
		t.Fatalf("FromEnv = %q, %v", b, err)
	}
	t.Setenv("ROTATOR_TEST_IMAGE_POSTGRES", "rotator-test/postgres:15-abc")
	if got := Image("postgres"); got != "rotator-test/postgres:15-abc" {
		t.Fatalf("Image(postgres) = %q", got)
	}
	t.Setenv("ROTATOR_TEST_IMAGE_MARIADB", "")
	if got := Image("mariadb"); got != "" {
		t.Fatalf("Image(mariadb) = %q", got)
	}
}

func TestResolve(t *testing.T) {
	const legacy = "ROTATOR_TEST_RIGX_MODE"
	for _, tc := range []struct {
		name, backend, legacy string
		want                  Backend
		how                   string
		errHas                string
	}{
		{name: "neither", want: Any, how: "$ROTATOR_TEST_BACKEND="},
		{name: "backend only", backend: "local", want: Local, how: "$ROTATOR_TEST_BACKEND=local"},
		{name: "legacy only", legacy: "container", want: Containers, how: "$ROTATOR_TEST_RIGX_MODE=container"},
		{name: "agree", backend: "dsn", legacy: "dsn", want: DSN, how: "$ROTATOR_TEST_RIGX_MODE=dsn"},
		{name: "disagree", backend: "local", legacy: "dsn", errHas: "disagree"},
		{name: "bad legacy", legacy: "cloud", errHas: "$ROTATOR_TEST_RIGX_MODE"},
		{name: "bad backend", backend: "cloud", errHas: "$ROTATOR_TEST_BACKEND"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvBackend, tc.backend)
			t.Setenv(legacy, tc.legacy)
			b, how, err := Resolve(legacy)
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("Resolve = %q, %q, %v; want an error naming %s", b, how, err, tc.errHas)
				}
				return
			}
			if err != nil || b != tc.want || how != tc.how {
				t.Fatalf("Resolve = %q, %q, %v; want %q, %q", b, how, err, tc.want, tc.how)
			}
		})
	}
}
