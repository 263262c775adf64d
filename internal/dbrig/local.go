//go:build unix

package dbrig

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ownerFile, in a WorkDir, holds the pid of the process that made it.
const ownerFile = "owner.pid"

// RunAs is the OS identity a server runs as: nil (this process's) unless
// this process is root, then the OS user name's (PostgreSQL and MariaDB
// refuse to run as root). why is non-empty when there is no such user:
// local servers are then not possible here. note ends that reason.
func RunAs(name, note string) (cred *syscall.Credential, why string) {
	if os.Geteuid() != 0 {
		return nil, ""
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, "running as root and there is no '" + name + "' OS user to run the server as" + note
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return nil, "cannot parse the '" + name + "' OS user's uid/gid"
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, ""
}

// Local is how a rig lays out its local servers' directories.
type Local struct {
	// Prefix begins the directories' names ("rotator-pgserver-").
	Prefix string
	// User is the OS user a server runs as when this process is root
	// ("postgres"); Note ends the reason when there is none.
	User, Note string
	// PIDFile is where a server writes its pid, relative to the
	// directory ("data/postmaster.pid"), and SweepSignal what SweepStale
	// sends a server left running.
	PIDFile     string
	SweepSignal syscall.Signal
}

// Prepare removes what dead processes left (SweepStale) and makes a
// WorkDir for a new server. skip is non-empty when a local server is not
// possible here (no OS user to run it as).
func (l Local) Prepare() (_ *WorkDir, skip string, _ error) {
	cred, why := RunAs(l.User, l.Note)
	if why != "" {
		return nil, why, nil
	}
	SweepStale(l.Prefix, l.PIDFile, l.SweepSignal)
	d, err := NewWorkDir(l.Prefix, cred)
	return d, "", err
}

// WorkDir is a temporary directory a local server lives in, owned by the
// server's OS user (cred; nil for this process's).
type WorkDir struct {
	// Path is the directory.
	Path string
	cred *syscall.Credential
	kept bool
}

// Cred is the OS identity the server runs as (nil: this process's).
func (d *WorkDir) Cred() *syscall.Credential { return d.cred }

// Discard removes the directory unless Serve started a server in it:
// deferred by a start that may fail half-way.
func (d *WorkDir) Discard() {
	if !d.kept {
		_ = d.Remove()
	}
}

// StopFunc returns a function that runs stop, then removes the directory:
// a local server's Stop.
func (d *WorkDir) StopFunc(stop func() error) func() error {
	return func() error {
		err := stop()
		if rerr := d.Remove(); err == nil {
			err = rerr
		}
		return err
	}
}

// Serve starts a server in the directory on a free port (start is called
// as OnFreePort calls it) and returns its stop function, which also
// removes the directory. From then on Discard leaves the directory.
func (d *WorkDir) Serve(start func(port int) (stop func() error, err error)) (func() error, error) {
	var stop func() error
	err := OnFreePort(func(port int) (err error) {
		stop, err = start(port)
		return err
	})
	if err != nil {
		return nil, err
	}
	d.kept = true
	return d.StopFunc(stop), nil
}

// TLSFiles are the paths of a server's TLS files in its WorkDir.
type TLSFiles struct{ CA, Cert, Key string }

// WriteTLS writes b's CA, certificate and key (readable by the server's
// user alone) into the directory under names, and returns their paths.
func (d *WorkDir) WriteTLS(b CertBundle, names TLSFiles) (TLSFiles, error) {
	var f TLSFiles
	var err error
	if f.CA, err = d.WriteFile(names.CA, b.CAPEM, 0o644); err != nil {
		return f, err
	}
	if f.Cert, err = d.WriteFile(names.Cert, b.CertPEM, 0o644); err != nil {
		return f, err
	}
	f.Key, err = d.WriteFile(names.Key, b.KeyPEM, 0o600)
	return f, err
}

// NewWorkDir makes a directory named prefix+random in the temporary
// directory, first writing this process's pid into it, so that SweepStale
// recognises it once this process is gone, then giving it to cred (mode
// 0711: the server's user owns it, others may pass through).
func NewWorkDir(prefix string, cred *syscall.Credential) (_ *WorkDir, err error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, err
	}
	d := &WorkDir{Path: dir, cred: cred}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, err
	}
	if err := d.Chown(dir); err != nil {
		return nil, fmt.Errorf("chown %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		return nil, err
	}
	return d, nil
}

// File is the path of name in the directory.
func (d *WorkDir) File(name string) string { return filepath.Join(d.Path, name) }

// Chown gives path to the server's OS user (nothing when that is this
// process's).
func (d *WorkDir) Chown(path string) error {
	if d.cred == nil {
		return nil
	}
	return os.Chown(path, int(d.cred.Uid), int(d.cred.Gid))
}

// Mkdir makes the directory name in the directory, for the server's user
// alone, and returns its path.
func (d *WorkDir) Mkdir(name string) (string, error) {
	p := d.File(name)
	if err := os.Mkdir(p, 0o700); err != nil {
		return "", err
	}
	if err := d.Chown(p); err != nil {
		return "", fmt.Errorf("chown %s: %w", p, err)
	}
	return p, nil
}

// WriteFile writes name in the directory, owned by the server's OS user,
// and returns its path.
func (d *WorkDir) WriteFile(name string, data []byte, mode os.FileMode) (string, error) {
	p := d.File(name)
	if err := os.WriteFile(p, data, mode); err != nil {
		return "", err
	}
	return p, d.Chown(p)
}

// Remove removes the directory and everything in it.
func (d *WorkDir) Remove() error { return os.RemoveAll(d.Path) }

// SweepStale removes the directories NewWorkDir(prefix) made for processes
// that died without removing them. A directory is stale when the process
// named in its owner file is gone. A server still running from it (which
// the parent-death signal should have stopped; its pid is the first line of
// pidFile, relative to the directory) gets sig first, after a check that
// its command line names the directory (a reused pid is left alone); a
// server that does not stop keeps its directory.
func SweepStale(prefix, pidFile string, sig syscall.Signal) {
	entries, err := os.ReadDir(os.TempDir())
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		dir := filepath.Join(os.TempDir(), e.Name())
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue // being created, or not ours
		}
		owner, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || Alive(owner) {
			continue
		}
		if pb, err := os.ReadFile(filepath.Join(dir, pidFile)); err == nil {
			first, _, _ := strings.Cut(string(pb), "\n")
			if pid, err := strconv.Atoi(strings.TrimSpace(first)); err == nil && Alive(pid) {
				cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
				if !bytes.Contains(cmdline, []byte(dir)) {
					continue // pid reused by something else; leave it alone
				}
				_ = syscall.Kill(pid, sig)
				for i := 0; i < 100 && Alive(pid); i++ {
					time.Sleep(20 * time.Millisecond)
				}
				if Alive(pid) {
					continue
				}
			}
		}
		_ = os.RemoveAll(dir)
	}
}

// Alive reports whether a process pid exists.
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
