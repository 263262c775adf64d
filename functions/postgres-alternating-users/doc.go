// Command postgres-alternating-users is the Lambda rotation function for a
// PostgreSQL secret that alternates between two users, using the master
// secret named by the secret's "masterarn" field.
package main
