// Command mkzip packs a Lambda bootstrap into a reproducible zip: one entry
// named "bootstrap", mode 0755, a fixed modification time, deflated. The
// same bootstrap always gives the same zip bytes. `make build` runs it:
//
//	go run ./internal/tools/mkzip -o dist/arm64/NAME.zip dist/arm64/NAME/bootstrap
package main
