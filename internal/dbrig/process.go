//go:build unix

package dbrig

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// StopStep is one step of stopping a server: send Signal, then wait up to
// Wait for it to exit.
type StopStep struct {
	Signal syscall.Signal
	Wait   time.Duration
}

// Process is a running server process.
type Process struct {
	cmd   *exec.Cmd
	name  string
	steps []StopStep
	done  chan struct{}
	err   error // cmd.Wait's, once done is closed
}

// StartProcess starts cmd. Stop sends steps' signals in turn, then kills
// it; name names it in errors ("postgres").
func StartProcess(cmd *exec.Cmd, steps ...StopStep) (*Process, error) {
	p := &Process{cmd: cmd, name: filepath.Base(cmd.Path), steps: steps, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", p.name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited; Err then says how.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is how the process exited (after Done).
func (p *Process) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// Stop stops the process: each step's signal in turn, then SIGKILL. The
// error says when it had to be killed.
func (p *Process) Stop() error {
	var total time.Duration
	for _, s := range p.steps {
		_ = p.cmd.Process.Signal(s.Signal)
		select {
		case <-p.done:
			return nil
		case <-time.After(s.Wait):
		}
		total += s.Wait
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	return fmt.Errorf("%s did not stop in %s; killed", p.name, total)
}

// ExitError is WaitReady's error when the process exited before it was
// ready.
type ExitError struct{ Err error }

func (e *ExitError) Error() string { return fmt.Sprintf("exited during start-up (%v)", e.Err) }

// Unwrap returns how the process exited.
func (e *ExitError) Unwrap() error { return e.Err }

// ErrNotReady is WaitReady's error when the process did not get ready in
// time.
var ErrNotReady = errors.New("not ready")

// WaitReady polls ready every interval until it says true. It returns an
// *ExitError when the process exits first; when ctx ends or timeout passes
// first, it stops the process and returns ctx's error ("start-up
// interrupted") or ErrNotReady.
func (p *Process) WaitReady(ctx context.Context, timeout, interval time.Duration, ready func() bool) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-p.done:
			return &ExitError{Err: p.err}
		case <-ctx.Done():
			_ = p.Stop()
			return fmt.Errorf("start-up interrupted: %w", ctx.Err())
		default:
		}
		if ready() {
			return nil
		}
		if time.Now().After(deadline) {
			_ = p.Stop()
			return fmt.Errorf("%w after %s", ErrNotReady, timeout)
		}
		time.Sleep(interval)
	}
}

// Readiness says how AwaitReady waits for a server and reports failures.
type Readiness struct {
	// Timeout bounds the wait; Ready is polled every Interval.
	Timeout, Interval time.Duration
	Ready             func() bool
	// LogFile is the server's log, read from offset Since on for errors.
	LogFile string
	Since   int64
	// Port is the port the server was given; BindErrors are the log
	// messages that say it could not listen on it.
	Port       int
	BindErrors []string
}

// AwaitReady is WaitReady with the server's errors: a server that exited
// with one of r.BindErrors in its log gives ErrPortTaken (OnFreePort then
// tries another port); an exit or a timeout otherwise gives the log.
func (p *Process) AwaitReady(ctx context.Context, r Readiness) error {
	err := p.WaitReady(ctx, r.Timeout, r.Interval, r.Ready)
	var exited *ExitError
	switch {
	case errors.As(err, &exited):
		log := LogSince(r.LogFile, r.Since)
		for _, m := range r.BindErrors {
			if strings.Contains(log, m) {
				return fmt.Errorf("%w: %d", ErrPortTaken, r.Port)
			}
		}
		return fmt.Errorf("%s %v; log:\n%s", p.name, err, log)
	case errors.Is(err, ErrNotReady):
		return fmt.Errorf("%s %v; log:\n%s", p.name, err, LogSince(r.LogFile, r.Since))
	}
	return err
}
