package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

)

// Exit statuses.
const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2
	exitCleanup = 3
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, a second one ends the process at once.
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// cli is what every subcommand gets: where to write, and the environment.
type cli struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

func (c *cli) errorf(format string, args ...any) {
	fmt.Fprintf(c.stderr, "rotator: "+format+"\n", args...)
}

const usage = `rotator runs, checks and tries AWS Secrets Manager rotations.

Usage:
  rotator rotate    --secret-id ID --function NAME [--endpoint URL] [--region R] [--dry-run] [--token T] [--emf] [-v]
  rotator preflight --secret-id ID --function NAME [--endpoint URL] [--region R] [--json]
  rotator local     [--port N] [--host ADDR] [--seed FILE]
  rotator demo      [-v]
  rotator functions

  rotate     runs createSecret, setSecret, testSecret and finishSecret against
             Secrets Manager (AWS, or any endpoint) the way Secrets Manager would,
             step by step; --dry-run checks everything and writes nothing.
  preflight  checks the secret, the network path, TLS, the logins and the
             privileges a rotation needs; changes nothing.
  local      serves an in-process Secrets Manager (rotatortest) for development.
  demo       starts a throwaway PostgreSQL and a local Secrets Manager, rotates
             a single user and alternating users, and shows the result.
  functions  lists the built-in rotation functions (--function NAME).

Run "rotator COMMAND -h" for a command's flags.

Exit status: 0 success; 1 the rotation, a check or the demo failed;
2 usage error; 3 AWSCURRENT moved but finishSecret's clean-up failed.
`

// run is the whole command, callable in-process by tests.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &cli{stdout: stdout, stderr: stderr, getenv: os.Getenv}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "rotate":
		return c.rotate(ctx, rest)
	case "preflight":
		return c.preflight(ctx, rest)
	case "local":
		return c.local(ctx, rest)
	case "demo":
		return c.demo(ctx, rest)
	case "functions":
		return c.functions(rest)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	c.errorf("unknown command %q\n", cmd)
	fmt.Fprint(stderr, usage)
	return exitUsage
}

// flags returns a flag set for a subcommand that reports to stderr.
func (c *cli) flags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintf(c.stderr, "Usage: rotator %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses a subcommand's flags. ok is false when the command must
// return code (help asked: 0; a bad flag: 2).
func (c *cli) parse(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	if fs.NArg() > 0 {
		c.errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
		fs.Usage()
		return exitUsage, false
	}
	return 0, true
}

// function resolves --function.
func (c *cli) function(cmd, name string) (function, bool) {
	if name == "" {
		c.errorf("%s: --function is required (one of %s)", cmd, strings.Join(functionNames(), ", "))
		return function{}, false
	}
	fn, ok := lookupFunction(name)
	if !ok {
		c.errorf("%s: unknown function %q (one of %s)", cmd, name, strings.Join(functionNames(), ", "))
	}
	return fn, ok
}

func (c *cli) functions(args []string) int {
	fs := c.flags("functions", "functions")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	for _, fn := range builtins {
		fmt.Fprintf(c.stdout, "%-28s %s\n", fn.Name, fn.Summary)
	}
	return exitOK
}
