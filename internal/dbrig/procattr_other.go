//go:build unix && !linux

package dbrig

import "syscall"

// ProcAttr runs a child as cred, in its own process group when pgid is set.
// Outside Linux there is no parent-death signal: a server whose parent was
// killed is stopped by the next start's SweepStale.
func ProcAttr(cred *syscall.Credential, _ syscall.Signal, pgid bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Setpgid: pgid}
}
