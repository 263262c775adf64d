package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/rotatorkit/rotator/internal/lambdabuild"
)

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

// run is main with its arguments and error output, for tests.
func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("mkzip", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "the zip to write")
	caBundle := fs.String("ca-bundle", "", "a PEM file of CA certificates to add as "+lambdabuild.CABundleName+" (e.g. AWS's RDS global bundle)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mkzip -o FUNCTION.zip [-ca-bundle global-bundle.pem] path/to/bootstrap")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" || fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	if err := lambdabuild.ZipFunction(*out, fs.Arg(0), *caBundle); err != nil {
		fmt.Fprintln(stderr, "mkzip:", err)
		return 1
	}
	return 0
}
