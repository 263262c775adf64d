package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rotatorkit/rotator/internal/pgserver"
	"github.com/rotatorkit/rotator/internal/pgtest"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// TestPostgresQuickStart runs README's Quick start as written, in order,
// as a user on a machine with PostgreSQL's binaries and no AWS account
// would: each line's words as a process from the repository's root, with
// the directory `go install` writes to first on PATH. A command that
// announces Ctrl-C and keeps running (rotator demo --keep) stays up in
// the background for the commands after it, as in a second terminal, and
// is stopped with SIGINT at the end. Every other command must exit 0.
func TestPostgresQuickStart(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the quick start builds the command twice and starts PostgreSQL twice")
	}
	cleanEnv(t)
	lines := quickStartCommands(t)
	skip := func(why string) {
		t.Helper()
		if pgtest.Required() {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	// The README's endpoint is a fixed port: another process on it would
	// answer instead of the one the quick start starts.
	if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(DefaultLocalPort)); err != nil {
		skip("the Quick start's port is taken on this machine: " + err.Error())
	} else {
		_ = l.Close()
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	t.Setenv("GOBIN", bin)
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	type background struct {
		line string
		cmd  *exec.Cmd
		out  *rotatortest.LogBuffer
		done chan error
	}
	var running []*background
	defer func() {
		for _, b := range running {
			_ = b.cmd.Process.Kill()
			<-b.done
		}
	}()
	outputs := map[string]string{}
	for _, line := range lines {
		args := strings.Fields(line)
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Dir = root
		out := &rotatortest.LogBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		bg := false
	wait:
		for {
			select {
			case err := <-done:
				t.Logf("$ %s (%s)\n%s", line, time.Since(start).Round(time.Millisecond), out.String())
				if err != nil && strings.Contains(out.String(), pgserver.ErrUnavailable.Error()) {
					skip("no PostgreSQL for the quick start: " + out.String())
				}
				if err != nil {
					t.Fatalf("%s: %v", line, err)
				}
				break wait
			case <-time.After(50 * time.Millisecond):
				if strings.Contains(out.String(), "Ctrl-C stops it") {
					bg = true
					break wait
				}
			}
		}
		if bg {
			t.Logf("$ %s (running in the background)\n%s", line, out.String())
			running = append(running, &background{line: line, cmd: cmd, out: out, done: done})
		}
		outputs[line] = out.String()
	}

	// What each command said, beyond its exit status.
	for line, out := range outputs {
		var want []string
		switch {
		case line == "make demo":
			want = []string{"Demo passed."}
		case strings.HasPrefix(line, "rotator demo --keep"):
			want = []string{"Demo passed. Kept running until Ctrl-C", "demo/single-user"}
		case strings.HasPrefix(line, "rotator preflight"):
			want = []string{"0 failed", "ready to rotate"}
		case strings.HasPrefix(line, "rotator rotate"):
			want = []string{"Rotated demo/single-user: AWSCURRENT moved"}
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q", line, w)
			}
		}
	}

	// Ctrl-C ends what stayed up, with status 0, and takes the database
	// with it.
	for _, b := range running {
		pgAddr := regexp.MustCompile(`PostgreSQL \S+ on (127\.0\.0\.1:\d+)`).FindStringSubmatch(b.out.String())
		if err := b.cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-b.done:
			if err != nil {
				t.Errorf("%s: after Ctrl-C: %v\n%s", b.line, err, b.out.String())
			}
		case <-time.After(time.Minute):
			t.Errorf("%s: still running a minute after Ctrl-C", b.line)
			_ = b.cmd.Process.Kill()
			<-b.done
		}
		if pgAddr != nil {
			if c, err := net.DialTimeout("tcp", pgAddr[1], time.Second); err == nil {
				_ = c.Close()
				t.Errorf("%s: PostgreSQL still answers on %s after Ctrl-C", b.line, pgAddr[1])
			}
		}
	}
	running = nil
}
