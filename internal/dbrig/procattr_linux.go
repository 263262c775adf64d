package dbrig

import "syscall"

// ProcAttr runs a child as cred (nil: as this process), killed with
// deathSig when this process dies, in its own process group when pgid is
// set (a terminal's Ctrl-C then reaches the test binary only, which stops
// its servers in order).
func ProcAttr(cred *syscall.Credential, deathSig syscall.Signal, pgid bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Pdeathsig: deathSig, Setpgid: pgid}
}
