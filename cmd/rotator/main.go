package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strconv"
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

// synopses are the commands' usage lines, after "rotator ". Each is the
// single source of both the line `rotator` prints and the one `rotator
// NAME -h` prints, so the two cannot drift apart; TestHelpMatchesUsage
// checks that each lists exactly the flags its command accepts.
var synopses = []struct{ name, synopsis, summary string }{
	{"rotate", "rotate --secret-id ID --function NAME [--endpoint-url URL] [--region R] [--profile P] [--output text|json] [--dry-run] [--token T] [--abandon-pending] [--emf] [-v]",
		`runs createSecret, setSecret, testSecret and finishSecret against
Secrets Manager (AWS, or any endpoint) the way Secrets Manager would,
step by step; --dry-run checks everything and writes nothing.`},
	{"preflight", "preflight --secret-id ID --function NAME [--endpoint-url URL] [--region R] [--profile P] [--output text|json]",
		`checks the secret, the network path, TLS, the logins and the
privileges a rotation needs; changes nothing.`},
	{"local", "local [--port N] [--host ADDR] [--seed FILE]",
		`serves an in-process Secrets Manager (rotatortest) for development,
and prints the settings that point the AWS CLI and SDKs at it.`},
	{"demo", "demo [--keep] [--port N] [-v]",
		`starts a throwaway PostgreSQL and a local Secrets Manager, rotates
a single user and alternating users, and shows the result; --keep
leaves both running for rotator preflight and rotate (Quick start).`},
	{"functions", "functions", `lists the built-in rotation functions (--function NAME).`},
	{"version", "version", `prints the module version and the VCS commit it was built from.`},
}

// synopsis returns a command's usage line, after "rotator ".
func synopsis(name string) (line, summary string) {
	for _, s := range synopses {
		if s.name == name {
			return s.synopsis, s.summary
		}
	}
	return name, ""
}

// usage is what `rotator` and `rotator help` print.
func usage() string {
	var b strings.Builder
	b.WriteString("rotator runs, checks and tries AWS Secrets Manager rotations.\n\nUsage:\n")
	for _, s := range synopses {
		name, rest, _ := strings.Cut(s.synopsis, " ")
		fmt.Fprintln(&b, strings.TrimRight(fmt.Sprintf("  rotator %-9s %s", name, rest), " "))
	}
	b.WriteString("\n")
	for _, s := range synopses {
		lines := strings.Split(s.summary, "\n")
		fmt.Fprintf(&b, "  %-10s %s\n", s.name, lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(&b, "  %-10s %s\n", "", l)
		}
	}
	b.WriteString(`
Secrets Manager is AWS's, with the AWS CLI's configuration (--profile,
--region, AWS_PROFILE, AWS_REGION), or any endpoint: --endpoint-url
(alias --endpoint), SECRETS_MANAGER_ENDPOINT or
AWS_ENDPOINT_URL_SECRETS_MANAGER.

Run "rotator COMMAND -h" for a command's flags.

Exit status: 0 success; 1 the rotation, a check or the demo failed;
2 usage error; 3 AWSCURRENT moved but finishSecret's clean-up failed.
`)
	return b.String()
}

// run is the whole command, callable in-process by tests.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &cli{stdout: stdout, stderr: stderr, getenv: os.Getenv}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
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
	case "version", "-version", "--version":
		return c.version(rest)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage())
		return exitOK
	}
	c.errorf("unknown command %q\n", cmd)
	fmt.Fprint(stderr, usage())
	return exitUsage
}

// flagSet is a subcommand's flags, with the aliases that print next to the
// flag they stand for instead of as flags of their own.
type flagSet struct {
	*flag.FlagSet
	aliases map[string][]string // a flag's name -> its aliases' names
	isAlias map[string]bool
}

// flags returns the flag set of a subcommand. Its help (-h) is printed by
// parse, from the command's synopsis.
func (c *cli) flags(name string) *flagSet {
	fs := &flagSet{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), aliases: map[string][]string{}, isAlias: map[string]bool{}}
	fs.SetOutput(c.stderr)
	fs.Usage = func() {} // parse prints the help, to stdout when asked for
	return fs
}

// alias defines name as another spelling of the flag canonical.
func (fs *flagSet) alias(name, canonical string) {
	fs.Var(fs.Lookup(canonical).Value, name, "alias of --"+canonical)
	fs.aliases[canonical] = append(fs.aliases[canonical], name)
	fs.isAlias[name] = true
}

// aliasVar defines name as a flag that stands for canonical with a value
// (--json for --output json); v sets it.
func (fs *flagSet) aliasVar(v flag.Value, name, canonical, usage string) {
	fs.Var(v, name, usage)
	fs.aliases[canonical] = append(fs.aliases[canonical], name)
	fs.isAlias[name] = true
}

// flagRE finds the flags a synopsis names, with the word after each.
var flagRE = regexp.MustCompile(`(--?)([a-z][a-z0-9-]*)(?: ([A-Za-z|]+))?`)

// printHelp prints the usage line, the command's summary and its flags in
// the synopsis's order, each with its metavariable from the synopsis, its
// default and its aliases.
func (fs *flagSet) printHelp(w io.Writer) {
	line, summary := synopsis(fs.Name())
	fmt.Fprintf(w, "Usage: rotator %s\n", line)
	if summary != "" {
		fmt.Fprintf(w, "\n%s %s\n", fs.Name(), strings.ReplaceAll(summary, "\n", " "))
	}
	var names []string
	meta := map[string]string{}
	for _, m := range flagRE.FindAllStringSubmatch(line, -1) {
		if f := fs.Lookup(m[2]); f != nil && !slices.Contains(names, m[2]) {
			names = append(names, m[2])
			if !isBool(f) {
				meta[m[2]] = m[3]
			}
		}
	}
	fs.VisitAll(func(f *flag.Flag) { // any flag the synopsis forgot
		if !slices.Contains(names, f.Name) && !fs.isAlias[f.Name] {
			names = append(names, f.Name)
		}
	})
	if len(names) == 0 {
		return
	}
	fmt.Fprintln(w, "\nFlags:")
	for _, name := range names {
		f := fs.Lookup(name)
		dash := "--"
		if len(name) == 1 {
			dash = "-"
		}
		head := "  " + dash + name
		if m := meta[name]; m != "" {
			head += " " + m
		} else if !isBool(f) {
			head += " VALUE"
		}
		fmt.Fprintln(w, head)
		usage := f.Usage
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
			usage += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(w, "        %s\n", usage)
		for _, a := range fs.aliases[name] {
			fmt.Fprintf(w, "        --%s: %s\n", a, fs.Lookup(a).Usage)
		}
	}
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// parse parses a subcommand's flags. ok is false when the command must
// return code: help asked for (printed on stdout, 0), or a bad flag or
// argument (the error and the help on stderr, 2).
func (c *cli) parse(fs *flagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.printHelp(c.stdout)
			return exitOK, false
		}
		fs.printHelp(c.stderr)
		return exitUsage, false
	}
	if fs.NArg() > 0 {
		c.errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
		fs.printHelp(c.stderr)
		return exitUsage, false
	}
	return 0, true
}

// outputFlag is --output: text (the default) or json, the two formats the
// AWS CLI users script against.
type outputFlag string

func (o *outputFlag) String() string { return string(*o) }

func (o *outputFlag) Set(v string) error {
	switch v {
	case "text", "json":
		*o = outputFlag(v)
		return nil
	}
	return fmt.Errorf("want text or json, not %q", v)
}

// outputAlias is a boolean flag that sets --output to one value: --json,
// preflight's first spelling, kept for scripts that use it.
type outputAlias struct {
	o *outputFlag
	v outputFlag
}

func (a outputAlias) String() string   { return "false" }
func (a outputAlias) IsBoolFlag() bool { return true }

func (a outputAlias) Set(v string) error {
	on, err := strconv.ParseBool(v)
	if err != nil {
		return err
	}
	if on {
		*a.o = a.v
	}
	return nil
}

// registerOutput defines --output (and, with jsonAlias, --json) on fs.
func (fs *flagSet) registerOutput(what string, jsonAlias bool) *outputFlag {
	o := outputFlag("text")
	fs.Var(&o, "output", what)
	if jsonAlias {
		fs.aliasVar(outputAlias{o: &o, v: "json"}, "json", "output", "alias of --output json")
	}
	return &o
}

// function resolves --function.
func (c *cli) function(cmd, name string) (function, bool) {
	if name == "" {
		c.errorf("%s: --function is required (one of %s)", cmd, strings.Join(functionNames(), ", "))
		return function{}, false
	}
	fn, ok := lookupFunction(name)
	if !ok && isBootstrapPath(name) {
		fn, err := bootstrapFunction(name)
		if err != nil {
			c.errorf("%s: %v", cmd, err)
			return function{}, false
		}
		return fn, true
	}
	if !ok {
		c.errorf("%s: unknown function %q (one of %s, or the path of your own bootstrap, e.g. ./bootstrap)", cmd, name, strings.Join(functionNames(), ", "))
	}
	return fn, ok
}

func (c *cli) functions(args []string) int {
	fs := c.flags("functions")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	for _, fn := range builtins {
		fmt.Fprintf(c.stdout, "%-28s %s\n", fn.Name, fn.Summary)
	}
	return exitOK
}
