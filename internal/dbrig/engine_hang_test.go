package dbrig

import (
	"context"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// An engine that accepts connections and never answers (a dockerd
// stopped half-way, a wedged socket) is reported as unavailable within the
// check's bound, with a reason: the rigs fall back, or fail, instead of
// hanging.
func TestDockerEngineThatDoesNotAnswer(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "docker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // read nothing, answer nothing
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			_ = c.Close()
		}
	})
	t.Setenv("DOCKER_HOST", "unix://"+sock)
	t.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	t.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "localhost")

	start := time.Now()
	ok, why := checkDocker(context.Background())
	took := time.Since(start)
	t.Logf("engine check: ok=%v after %v: %s", ok, took.Round(time.Millisecond), why)
	if ok || why == "" {
		t.Fatalf("a silent engine passed the check (ok=%v, why=%q)", ok, why)
	}
	if took > DockerCheckTimeout+5*time.Second {
		t.Fatalf("the check took %v, beyond its bound of %v", took, DockerCheckTimeout)
	}
}
