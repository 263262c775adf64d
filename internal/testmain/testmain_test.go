package testmain

import (
	"syscall"
	"testing"
	"time"
)

type fakeM struct{ run func() int }

func (f fakeM) Run() int { return f.run() }

func TestRunStopsAfterTests(t *testing.T) {
	stopped := 0
	code := run(fakeM{func() int { return 3 }}, "t", func() { stopped++ }, func(int) { t.Fatal("exit called") })
	if code != 3 || stopped != 1 {
		t.Fatalf("code %d, stopped %d times", code, stopped)
	}
}

func TestRunStopsOnSignal(t *testing.T) {
	stopped := make(chan struct{}, 2)
	exited := make(chan int, 1)
	done := make(chan struct{})
	go run(fakeM{func() int {
		// The signal arrives while the tests run.
		if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
			t.Error(err)
		}
		<-done
		return 0
	}}, "t", func() { stopped <- struct{}{} }, func(code int) { exited <- code })
	select {
	case code := <-exited:
		if code != 128+int(syscall.SIGTERM) {
			t.Fatalf("exit code %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	if len(stopped) != 1 {
		t.Fatal("servers not stopped before exit")
	}
	close(done)
}
