// Package single rotates one database user's own password: the user logs in
// with its current password and sets the new one.
package single
