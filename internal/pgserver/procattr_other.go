//go:build unix && !linux

package pgserver

import "syscall"

// procAttr runs a child as cred, in its own process group when pgid is set.
// Outside Linux there is no parent-death signal: a server whose parent was
// killed is stopped by the next Start's sweep.
func procAttr(cred *syscall.Credential, _ syscall.Signal, pgid bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Setpgid: pgid}
}
