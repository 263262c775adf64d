package lambdaruntime

import "syscall"

// sysProcAttr kills the bootstrap when the process that started it dies,
// so a crashed test leaves no runtime behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
