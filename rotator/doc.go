// Package rotator is the generic engine of Rotator: it runs AWS Secrets
// Manager's four-step rotation contract (createSecret, setSecret,
// testSecret, finishSecret) for any Strategy.
//
// The handler owns every Secrets Manager call and every staging-label
// decision. A strategy only says how to build the pending value, how to make
// the target accept it, how to test it and, optionally, what to clean up
// after promotion; it never names AWSCURRENT, AWSPENDING or AWSPREVIOUS.
//
// A full rotation costs at most eight Secrets Manager calls on the normal
// path: createSecret makes DescribeSecret, GetSecretValue and PutSecretValue;
// setSecret GetSecretValue at the token and at AWSCURRENT; testSecret
// GetSecretValue at the token; finishSecret DescribeSecret and
// UpdateSecretVersionStage. PutSecretValue's idempotency on the token stands
// in for the "does pending already exist" read that AWS's templates make.
//
// Secret values never appear in logs or in returned errors: every value the
// rotation reads or generates is registered with a Scrubber that cleans the
// error text and, behind the rule that nothing logs a value, every log line.
package rotator
