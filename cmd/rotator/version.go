package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// version prints what the binary was built from, so that a bug report can
// name it: the module version (set by go install ...@vX.Y.Z), the VCS
// commit (set when built inside a git checkout) and the Go toolchain.
func (c *cli) version(args []string) int {
	fs := c.flags("version")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	bi, ok := debug.ReadBuildInfo()
	fmt.Fprintln(c.stdout, versionLine(bi, ok))
	return exitOK
}

// versionLine tells a build: "rotator v1.2.0, commit 0123456789ab
// (2026-01-02T03:04:05Z), go1.26.8 linux/amd64". A version the build
// does not know is "(devel)", as the go command says for a build of a
// checkout; a commit it does not know is "unknown" (built outside a git
// checkout, from a module zip, or with -buildvcs=false).
func versionLine(bi *debug.BuildInfo, ok bool) string {
	version, revision, when, modified := "(devel)", "", "", false
	goVersion := runtime.Version()
	if ok && bi != nil {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	commit := "unknown"
	if revision != "" {
		commit = revision[:min(12, len(revision))]
		var notes []string
		if when != "" {
			notes = append(notes, when)
		}
		if modified {
			notes = append(notes, "with uncommitted changes")
		}
		if len(notes) > 0 {
			commit += " (" + strings.Join(notes, ", ") + ")"
		}
	}
	return fmt.Sprintf("rotator %s, commit %s, %s %s/%s", version, commit, goVersion, runtime.GOOS, runtime.GOARCH)
}
