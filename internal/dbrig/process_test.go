//go:build unix

package dbrig

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SweepStale removes a directory whose owner is gone, stopping the server
// still running from it, and leaves one whose owner lives.
func TestSweepStale(t *testing.T) {
	prefix := "rotator-dbrig-sweep-" + RandomHex(3) + "-"
	mk := func(owner int) string {
		dir, err := os.MkdirTemp("", prefix)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
		if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(owner)), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	// A process that is gone: a child that exited.
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Skipf("no true(1): %v", err)
	}
	stale := mk(gone.Process.Pid)
	live := mk(os.Getpid())
	// A "server" left running from the stale directory: its command line
	// names the directory.
	srv := exec.Command("sh", "-c", "sleep 60 # "+stale)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill() })
	waited := make(chan struct{})
	go func() { _ = srv.Wait(); close(waited) }()
	if err := os.WriteFile(filepath.Join(stale, "server.pid"), []byte(strconv.Itoa(srv.Process.Pid)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	SweepStale(prefix, "server.pid", syscall.SIGKILL)

	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale directory still there: %v", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("live owner's directory removed: %v", err)
	}
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		t.Error("the server left running was not stopped")
	}
}

func TestProcessStopAndReadiness(t *testing.T) {
	// A process that ignores the first signal is killed after the steps.
	p, err := StartProcess(exec.Command("sh", "-c", "trap '' TERM; sleep 30"),
		StopStep{Signal: syscall.SIGTERM, Wait: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the trap be set
	if err := p.Stop(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("Stop of a process ignoring SIGTERM = %v, want it killed", err)
	}

	// A process that exits during start-up: an ExitError, and a bind
	// failure in its log is ErrPortTaken.
	log := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(log, []byte("old: Address already in use\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	since := FileSize(log)
	run := func(script string) error {
		p, err := StartProcess(exec.Command("sh", "-c", script))
		if err != nil {
			t.Fatal(err)
		}
		return p.AwaitReady(context.Background(), Readiness{
			Timeout: 2 * time.Second, Interval: 10 * time.Millisecond, Ready: func() bool { return false },
			LogFile: log, Since: since, Port: 42, BindErrors: []string{"Address already in use"},
		})
	}
	err = run("exit 3")
	if err == nil || !strings.Contains(err.Error(), "sh exited during start-up (exit status 3)") {
		t.Errorf("exit: %v", err)
	}
	if errors.Is(err, ErrPortTaken) {
		t.Errorf("a bind error logged before this start counted: %v", err)
	}
	err = run("echo 'bind: Address already in use' >> " + log + "; exit 1")
	if !errors.Is(err, ErrPortTaken) || !strings.Contains(err.Error(), "42") {
		t.Errorf("bind failure: %v, want ErrPortTaken naming port 42", err)
	}

	// One that never gets ready is stopped after the timeout.
	p, err = StartProcess(exec.Command("sleep", "30"), StopStep{Signal: syscall.SIGTERM, Wait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = p.WaitReady(context.Background(), 100*time.Millisecond, 10*time.Millisecond, func() bool { return false })
	if !errors.Is(err, ErrNotReady) {
		t.Errorf("timeout: %v", err)
	}
	select {
	case <-p.Done():
	default:
		t.Error("a process that was not ready is still running")
	}

	// And one that gets ready is left running.
	p, err = StartProcess(exec.Command("sleep", "30"), StopStep{Signal: syscall.SIGTERM, Wait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := p.WaitReady(context.Background(), 5*time.Second, time.Millisecond, func() bool { n++; return n == 3 }); err != nil {
		t.Fatal(err)
	}
	if p.Err() != nil {
		t.Fatalf("exited: %v", p.Err())
	}
	if err := p.Stop(); err != nil {
		t.Errorf("Stop = %v", err)
	}
}
