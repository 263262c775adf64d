// Command rotator runs, checks and tries AWS Secrets Manager rotations with
// Rotator's built-in rotation functions:
//
//	rotator rotate    --secret-id ID --function NAME   run the four steps locally, as Secrets Manager would
//	rotator preflight --secret-id ID --function NAME   check everything a rotation needs, change nothing
//	rotator local     [--port N] [--seed FILE]         serve a local Secrets Manager for development
//	rotator demo                                       a throwaway PostgreSQL, two rotations, the proof
//	rotator functions                                  list the built-in rotation functions
//
// Exit status: 0 success; 1 the rotation, a check or the demo failed; 2 a
// usage error; 3 AWSCURRENT moved but finishSecret's clean-up failed.
package main
