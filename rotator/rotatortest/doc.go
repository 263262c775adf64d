// Package rotatortest tests rotation functions without AWS: an in-process
// AWS Secrets Manager that speaks the real AWS JSON 1.1 protocol to the
// real SDK client, and that plays Secrets Manager's part in a rotation.
//
//	srv := rotatortest.NewServer()
//	defer srv.Close()
//	arn := srv.MustCreateSecret(t, "app/db", `{"username":"app","password":"old"}`)
//	outcome, calls := rotatortest.Rotate(t, srv, arn, myRotationFunc)
//
// # The API
//
// The server answers POST / with an X-Amz-Target: secretsmanager.<Operation>
// header, as AWS does, for CreateSecret, GetSecretValue, PutSecretValue,
// UpdateSecretVersionStage, DescribeSecret, ListSecretVersionIds,
// GetRandomPassword, RotateSecret, CancelRotateSecret, DeleteSecret and
// RestoreSecret. Errors are HTTP 400 with {"__type": ..., "message": ...}, so
// the SDK returns its typed errors (*types.ResourceNotFoundException,
// *types.ResourceExistsException, *types.InvalidRequestException,
// *types.InvalidParameterException, ...). The rules follow the Secrets
// Manager API reference; each is cited in the code where it is applied.
// In short:
//
//   - A SecretId is a name, a full ARN
//     (arn:aws:secretsmanager:us-east-1:123456789012:secret:NAME-AbCdEf) or
//     the ARN without its six-character suffix.
//   - Each staging label is on at most one version. Moving AWSCURRENT moves
//     AWSPREVIOUS to the version AWSCURRENT left.
//   - GetSecretValue reads AWSCURRENT by default; a version that has a label
//     but no value (what RotateSecret makes before createSecret) gives
//     ResourceNotFoundException.
//   - PutSecretValue is idempotent on ClientRequestToken: the same token and
//     value again is ignored, the same token with another value is
//     ResourceExistsException. Without VersionStages it moves AWSCURRENT.
//     A new version that takes AWSCURRENT while another version holds
//     AWSPENDING abandons that rotation (AWSPENDING is removed), as
//     CloudTrail's RotationAbandoned event documents.
//   - UpdateSecretVersionStage refuses to move a label held by another
//     version unless RemoveFromVersionId names that version
//     (InvalidParameterException).
//   - A secret scheduled for deletion answers InvalidRequestException to
//     everything but DescribeSecret, ListSecretVersionIds, DeleteSecret with
//     ForceDeleteWithoutRecovery, and RestoreSecret.
//
// # Rotation
//
// RotateSecret sets the rotation configuration (RotationEnabled true) and,
// unless RotateImmediately is false, creates the version for its
// ClientRequestToken labelled AWSPENDING with no value, then invokes the
// [RotationFunc] registered for the RotationLambdaARN ([Server.RegisterFunction],
// or [InvokeHTTP] for a function served by the Lambda Runtime Interface
// Emulator) with createSecret, setSecret, testSecret and finishSecret. It
// runs the rotation before it answers, and answers success whatever the
// outcome (AWS's RotateSecret only starts a rotation); [Server.LastRotation]
// tells what happened. A failed rotation is attempted again from
// createSecret with the same token, up to [WithRotationAttempts] times in
// all. After a rotation that succeeded, the server removes AWSPENDING from
// the new AWSCURRENT version, as Secrets Manager does. While AWSPENDING is
// on a version other than AWSCURRENT's, RotateSecret answers
// InvalidRequestException "A previous rotation isn't complete. That rotation
// will be reattempted." ([Server.ResumeRotation] plays that reattempt).
// CancelRotateSecret turns rotation off and leaves AWSPENDING where it is.
//
// # Observing and breaking things
//
// Every call is logged ([Server.Calls], [Server.CallCounts]) without secret
// values, including the calls a rotation function makes. [Server.InjectFault]
// makes calls fail or slow down: a ThrottlingException is retried by the
// SDK's retryer as throttling, an InternalServiceError comes with status
// 500; with [Fault.AfterApply] the call's change is made before the fault
// hides the answer.
// [Server.StagesOf] and [Server.ValueOf] read the state without a call.
//
// # Secret hygiene
//
// [Hygienic] wraps a test binary's run and fails it when any secret value
// stored through a server (or made by its GetRandomPassword) appears in a
// [LogBuffer] line, an error or panic of a rotation function the server
// ran, the standard logger, stdout or stderr. [NewHygiene] and
// [WithHygiene] give a test a check of its own.
package rotatortest
