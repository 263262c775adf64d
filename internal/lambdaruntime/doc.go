// Package lambdaruntime plays AWS Lambda's part for a custom-runtime
// function (runtime provided.al2023) on this machine: it serves the Lambda
// Runtime API that the function's bootstrap talks to, starts the bootstrap
// as a process with the environment Lambda gives it, and invokes it as the
// Lambda service would. Tests and benchmarks use it to run the real
// bootstrap binaries end to end, without Docker or the Runtime Interface
// Emulator.
//
// # The Runtime API
//
// [Server] answers, under /2018-06-01 (the API version in
// $AWS_LAMBDA_RUNTIME_API's URLs):
//
//   - GET /runtime/invocation/next: blocks until there is an invocation,
//     then answers 200 with the event as the body and the headers
//     Lambda-Runtime-Aws-Request-Id, Lambda-Runtime-Deadline-Ms (Unix
//     milliseconds), Lambda-Runtime-Invoked-Function-Arn and
//     Lambda-Runtime-Trace-Id. The first one marks the runtime ready
//     ([Server.Ready]).
//   - POST /runtime/invocation/{AwsRequestId}/response: the invocation's
//     result; 202 Accepted. At most 6 MiB (413 beyond).
//   - POST /runtime/invocation/{AwsRequestId}/error: the invocation failed;
//     the body is {"errorMessage", "errorType", "stackTrace"}, the error type
//     may also come in the Lambda-Runtime-Function-Error-Type header (or
//     trailer, as aws-lambda-go sends it when reading the body fails);
//     202 Accepted.
//   - POST /runtime/init/error: initialisation failed (same body and
//     header); 202 Accepted. Every later invocation fails with that error.
//
// An unknown or already answered request id is 400 (errorType
// InvalidRequestID), an init error after the first next is 403
// (InvalidStateTransition), any other path 404, as Lambda answers them.
//
// [Server.Invoke] queues one invocation at a time, as one Lambda execution
// environment runs them, and waits for the runtime's answer: the response
// body, or a [FunctionError] the way Lambda's Invoke API reports one
// (errorType and errorMessage). A runtime process that exits, crashes or
// never answers before the deadline yields Runtime.ExitError or
// Sandbox.Timedout, as in Lambda.
//
// # The process
//
// [Start] runs a bootstrap with [Env]: AWS_LAMBDA_RUNTIME_API pointing at the
// server, the AWS_LAMBDA_* and AWS_REGION variables, dummy credentials,
// LAMBDA_TASK_ROOT, _HANDLER=bootstrap and TZ=:UTC, and nothing from the
// caller's environment but what is passed explicitly. [Process] tells how
// long the process took from exec to its first GET next (start to ready),
// its peak resident memory (VmHWM, read while it runs and just before
// [Process.Stop] ends it) and everything it wrote.
package lambdaruntime
