package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/rotatorkit/rotator/internal/lambdabuild"
)

func main() {
	out := flag.String("o", "", "the zip to write")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: mkzip -o FUNCTION.zip path/to/bootstrap")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *out == "" || flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := lambdabuild.ZipBootstrap(*out, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "mkzip:", err)
		os.Exit(1)
	}
}
