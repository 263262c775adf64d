package prismtest

import (
	"os/exec"
	"syscall"
)

// sysProcAttr puts the server in its own process group (so that stopping
// it reaches anything it started) and kills it when the thread that
// started it dies, so a crashed or killed test binary leaves no server
// behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func terminate(cmd *exec.Cmd) { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }

func kill(cmd *exec.Cmd) { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
