package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// Context is the example app's settings (cdk -c name=value).
type Context struct {
	DistDir, CABundle                      string
	Region, SecretAccount, FunctionAccount string
}

// ContextOf reads the settings from the app's context, with defaults that
// synthesize anywhere (the accounts are placeholders to replace).
func ContextOf(app awscdk.App) Context {
	get := func(key, def string) string {
		if v, ok := app.Node().TryGetContext(jsii.String(key)).(string); ok && v != "" {
			return v
		}
		return def
	}
	return Context{
		DistDir:         get("dist", "../dist"),
		CABundle:        get("caBundle", ""),
		Region:          get("region", "eu-west-1"),
		SecretAccount:   get("secretAccount", "111111111111"),
		FunctionAccount: get("functionAccount", "222222222222"),
	}
}

// NewApp adds every example stack to app.
func NewApp(app awscdk.App, c Context) error {
	base := Props{DistDir: c.DistDir, CABundle: c.CABundle}
	if _, err := NewPostgres(app, "RotatorPostgresExample", &base); err != nil {
		return fmt.Errorf("RotatorPostgresExample: %w", err)
	}
	if _, err := NewSendGrid(app, "RotatorSendGridExample", &SendGridProps{
		Props:         Props{DistDir: c.DistDir},
		KeySecretName: "example/sendgrid/api-key", AdminSecretName: "example/sendgrid/admin-key",
	}); err != nil {
		return fmt.Errorf("RotatorSendGridExample: %w", err)
	}
	if _, err := NewCrossAccount(app, "RotatorCrossAccount", &CrossAccountProps{
		DistDir: c.DistDir, Region: c.Region,
		SecretAccount: c.SecretAccount, FunctionAccount: c.FunctionAccount,
		FunctionName: "rotator-cross-account-example", RoleName: "rotator-cross-account-example",
		SecretName: "rotator/example/cross-account",
	}); err != nil {
		return fmt.Errorf("RotatorCrossAccount: %w", err)
	}
	return nil
}
