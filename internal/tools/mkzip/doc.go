// Command mkzip packs a Lambda bootstrap into a reproducible zip: an entry
// named "bootstrap", mode 0755, and with -ca-bundle a PEM file as
// "rds-ca-bundle.pem", mode 0644 (the CA bundle the PostgreSQL engine reads
// from $LAMBDA_TASK_ROOT); a fixed modification time, deflated. The same
// inputs always give the same zip bytes. `make build` runs it (CA_BUNDLE=
// path adds -ca-bundle):
//
//	go run ./internal/tools/mkzip -o dist/arm64/NAME.zip [-ca-bundle global-bundle.pem] dist/arm64/NAME/bootstrap
package main
