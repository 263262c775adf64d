// Command mkzip packs a Lambda bootstrap into a reproducible zip: one entry
// named "bootstrap", mode 0755, a fixed modification time, deflated. The
// same bootstrap always gives the same zip bytes. `make build` runs it:
//
//	go run ./internal/tools/mkzip -o dist/arm64/NAME.zip dist/arm64/NAME/bootstrap
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
