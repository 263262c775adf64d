// Package dualpassword rotates one user's password with MySQL's dual
// passwords (MySQL 8.0.14 and later): setSecret makes the pending password
// the account's primary one and keeps the current one as its secondary
// (ALTER USER ... RETAIN CURRENT PASSWORD), so that clients still holding
// AWSCURRENT keep logging in while the rotation runs; after finishSecret
// has promoted the pending value, the clean-up step discards the old
// password (DISCARD OLD PASSWORD), strictly after the promotion.
//
// The engine declares what it can do through the small Engine interface
// below; a server without dual passwords (MariaDB, MySQL before 8.0.14) is
// a configuration error that changes nothing, never a silent fall-back to
// a single-user rotation.
package dualpassword
