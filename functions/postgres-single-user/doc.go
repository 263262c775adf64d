// Command postgres-single-user is the Lambda rotation function for a
// PostgreSQL user that changes its own password.
package main
