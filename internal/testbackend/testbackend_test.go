package testbackend

import "testing"

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
