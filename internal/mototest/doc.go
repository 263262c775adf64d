// Package mototest gives tests a moto_server: a Secrets Manager emulator
// (https://github.com/getmoto/moto) written by people outside this project,
// against which the scenario tests check rotatortest and the engine.
//
// The server comes from the first of these that starts, tried in order:
//
//  1. the command in $ROTATOR_MOTO_SERVER (a path, or a command line split
//     on spaces), when set;
//  2. moto_server found on $PATH;
//  3. python3 -m moto.server, with python3 found on $PATH.
//
// Each is started as `... -H 127.0.0.1 -p PORT` on a free port and polled
// until it answers. A candidate that is missing or exits before it answers
// (a pyenv shim without moto behind it, a python3 without the moto module)
// counts as "moto not available": the test is skipped with the reasons, or
// fails when $ROTATOR_REQUIRE_MOTO=1 (.ci/run sets it, so that a missing
// moto cannot pass as a green run). A moto that starts but never answers
// is a failure.
//
// Two ways to get a server:
//
//   - [Start] starts a server for one test and stops it in t.Cleanup
//     ([StartOrReason] does too, and lets a test run its other parts
//     when moto is not available);
//   - [Shared] starts one server per test binary on first use. [Main],
//     called from TestMain, stops it when the tests end or the binary gets
//     SIGINT/SIGTERM; on Linux the server also dies with the test binary
//     (parent-death signal), so a crashed or killed test leaves no
//     moto_server behind either.
//
// A server starts in about 1.2 s, so a package should share one across its
// moto tests (one top-level test with subtests, or [Shared]).
//
// Clients come from [Server.Client] or [EndpointOptions]: the real SDK
// client, static credentials, region us-east-1, BaseEndpoint = the server.
// [BeginRotation] makes, through moto's own APIs, the state Secrets Manager
// leaves before it invokes a rotation function's createSecret step.
package mototest
