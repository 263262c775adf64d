// Package awsconfig builds the Secrets Manager client from the SDK's full
// configuration chain (environment, shared config and credentials files,
// profiles, SSO, web identity, instance and container roles). The rotator
// command and programs outside Lambda use it; a Lambda function uses
// rotator.NewLambdaClient instead, which reads only what Lambda sets and
// keeps this chain out of the bootstrap.
package awsconfig
