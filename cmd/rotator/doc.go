// Command rotator runs, checks and tries AWS Secrets Manager rotations with
// Rotator's built-in rotation functions:
//
//	rotator rotate    --secret-id ID --function NAME   run the four steps locally, as Secrets Manager would
//	rotator preflight --secret-id ID --function NAME   check everything a rotation needs, change nothing
//	rotator local     [--port N] [--seed FILE]         serve a local Secrets Manager for development
//	rotator demo      [--keep]                         a throwaway PostgreSQL, two rotations, the proof
//	rotator functions                                  list the built-in rotation functions
//	rotator version                                    the module version and VCS commit of this build
//
// rotate and preflight name Secrets Manager as the AWS CLI does:
// --endpoint-url, --region, --profile, and print --output text or json.
// `rotator COMMAND -h` lists a command's flags.
//
// Exit status: 0 success; 1 the rotation, a check or the demo failed; 2 a
// usage error; 3 AWSCURRENT moved but finishSecret's clean-up failed.
package main
