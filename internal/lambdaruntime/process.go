package lambdaruntime

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// DefaultMemoryMB is the AWS_LAMBDA_FUNCTION_MEMORY_SIZE [Env] sets unless
// told otherwise: the memory a rotation function is given by default.
const DefaultMemoryMB = 128

// Env returns the environment Lambda gives a provided.al2023 function
// hosted by s, followed by extra ("NAME=value" entries, which win). It
// holds dummy credentials: point the function's endpoints at local
// stand-ins through extra.
func Env(s *Server, taskRoot string, extra ...string) []string {
	cfg := s.Config()
	env := []string{
		"AWS_LAMBDA_RUNTIME_API=" + s.Addr(),
		"AWS_LAMBDA_FUNCTION_NAME=" + cfg.FunctionName,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(DefaultMemoryMB),
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + cfg.FunctionName,
		"AWS_LAMBDA_LOG_STREAM_NAME=" + time.Now().UTC().Format("2006/01/02") + "/[$LATEST]" + randomHex(16),
		"AWS_REGION=" + cfg.Region,
		"AWS_DEFAULT_REGION=" + cfg.Region,
		"AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
		"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"AWS_SESSION_TOKEN=lambdaruntime-session-token",
		"AWS_XRAY_CONTEXT_MISSING=LOG_ERROR",
		"LAMBDA_TASK_ROOT=" + taskRoot,
		"LAMBDA_RUNTIME_DIR=/var/runtime",
		"_HANDLER=bootstrap",
		"TZ=:UTC",
		"LANG=en_US.UTF-8",
		"PATH=/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
	}
	return mergeEnv(env, extra)
}

// mergeEnv appends extra to env, an entry of extra replacing one of env
// with the same name.
func mergeEnv(env, extra []string) []string {
	idx := map[string]int{}
	out := make([]string, 0, len(env)+len(extra))
	for _, kv := range append(append([]string(nil), env...), extra...) {
		name, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[name]; ok {
			out[i] = kv
			continue
		}
		idx[name] = len(out)
		out = append(out, kv)
	}
	return out
}

// Process is a bootstrap running against a Server.
type Process struct {
	Server *Server
	// Started is when the process was started (just before exec).
	Started time.Time

	cmd    *exec.Cmd
	out    *syncBuffer
	done   chan struct{}
	waitMu sync.Mutex
	err    error
	state  *os.ProcessState
	peak   int64
}

// Start starts the bootstrap at path, in its own directory
// (LAMBDA_TASK_ROOT), with Env(s, dir, extra...) as its whole environment,
// and tells s when it exits. Its stdout and stderr are kept together
// ([Process.Output]). ctx ending kills it.
func Start(ctx context.Context, s *Server, path string, extra ...string) (*Process, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(abs)
	cmd := exec.CommandContext(ctx, abs)
	cmd.Dir = dir
	cmd.Env = Env(s, dir, extra...)
	out := &syncBuffer{}
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = sysProcAttr()
	p := &Process{Server: s, cmd: cmd, out: out, done: make(chan struct{})}
	p.Started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("lambdaruntime: start %s: %w", path, err)
	}
	go func() {
		err := cmd.Wait()
		p.waitMu.Lock()
		p.err = err
		p.state = cmd.ProcessState
		p.waitMu.Unlock()
		s.RuntimeExited(err)
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// WaitReady waits until the runtime first asks for an invocation and
// returns the time from start to then. It fails if the process exits
// first (an init failure: the error says how it exited and what it wrote).
func (p *Process) WaitReady(ctx context.Context) (time.Duration, error) {
	select {
	case <-p.Server.Ready():
		return p.Server.ReadyAt().Sub(p.Started), nil
	case <-p.done:
		select {
		case <-p.Server.Ready():
			return p.Server.ReadyAt().Sub(p.Started), nil
		default:
		}
		return 0, fmt.Errorf("lambdaruntime: the runtime exited before asking for an invocation (%v); output:\n%s", p.ExitErr(), p.Output())
	case <-ctx.Done():
		return 0, fmt.Errorf("lambdaruntime: waiting for the runtime: %w; output so far:\n%s", ctx.Err(), p.Output())
	}
}

// Output is everything the process wrote to stdout and stderr so far.
func (p *Process) Output() string { return p.out.String() }

// ExitErr is how the process ended (nil: exit status 0, or still running).
func (p *Process) ExitErr() error {
	p.waitMu.Lock()
	defer p.waitMu.Unlock()
	return p.err
}

// ProcessState is the exited process's state (nil while it runs).
func (p *Process) ProcessState() *os.ProcessState {
	p.waitMu.Lock()
	defer p.waitMu.Unlock()
	return p.state
}

// PeakRSS returns the largest resident set size the process has had, in
// bytes: VmHWM from /proc/<pid>/status. Once the process has exited it
// returns the last value read, which [Process.Stop] reads just before it
// signals the process; a process that exited by itself before any read
// has no peak to tell (an error).
//
// The kernel's maxrss (rusage) is not used: a child started with
// CLONE_VM|CLONE_VFORK, as Go starts processes, runs on its parent's
// memory until execve, and Linux carries that high-water mark across the
// exec, so maxrss reports the parent's size (the test binary's) instead.
func (p *Process) PeakRSS() (int64, error) {
	if p.ProcessState() == nil {
		if v, err := readVmHWM(p.Pid()); err == nil {
			p.waitMu.Lock()
			p.peak = max(p.peak, v)
			p.waitMu.Unlock()
		} else if p.ProcessState() == nil {
			return 0, err
		}
	}
	p.waitMu.Lock()
	defer p.waitMu.Unlock()
	if p.peak > 0 {
		return p.peak, nil
	}
	return 0, errors.New("lambdaruntime: the process exited before its peak RSS could be read")
}

// readVmHWM reads the peak resident set size of pid from /proc, in bytes.
func readVmHWM(pid int) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("lambdaruntime: peak RSS: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("lambdaruntime: peak RSS: unexpected VmHWM line %q", sc.Text())
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("lambdaruntime: peak RSS: %w", err)
		}
		return kb * 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("lambdaruntime: peak RSS: %w", err)
	}
	return 0, errors.New("lambdaruntime: peak RSS: no VmHWM in /proc status")
}

// Stop records the process's peak RSS, then ends it as Lambda ends an
// execution environment (SIGTERM, then SIGKILL after grace) and waits for
// it. Stopping a process that has
// already exited only waits.
func (p *Process) Stop(grace time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_, _ = p.PeakRSS() // the last chance to read VmHWM
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	return nil
}

// Wait waits for the process to exit and returns how it ended.
func (p *Process) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.ExitErr()
	case <-ctx.Done():
		return ctx.Err()
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write keeps p, and hands each line to the test binary's secret hygiene
// check (rotatortest.Hygienic): a bootstrap's output is its log lines and,
// as in Lambda, its metric lines.
func (b *syncBuffer) Write(p []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(p), "\n") {
		kind := "log"
		if strings.HasPrefix(line, `{"_aws"`) {
			kind = "metric"
		}
		rotatortest.Capture(kind, line)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
