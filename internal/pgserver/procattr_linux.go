package pgserver

import "syscall"

// procAttr runs a child as cred, killed with deathSig when this process
// dies, in its own process group when pgid is set.
func procAttr(cred *syscall.Credential, deathSig syscall.Signal, pgid bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Pdeathsig: deathSig, Setpgid: pgid}
}
