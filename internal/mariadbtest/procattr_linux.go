package mariadbtest

import "syscall"

// procAttr runs a child as cred, killed when this process dies, in its own
// process group.
func procAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
