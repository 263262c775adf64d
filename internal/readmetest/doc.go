// Package readmetest keeps README.md's code examples identical to the
// compiled example files they are copied from.
package readmetest
