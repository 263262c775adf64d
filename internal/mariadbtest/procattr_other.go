//go:build unix && !linux

package mariadbtest

import "syscall"

// procAttr runs a child as cred in its own process group (no parent-death
// signal outside Linux).
func procAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Setpgid: true}
}
