// The example app: `cdk synth` (cdk.json runs it) or `cdk deploy STACK`.
// Context: dist (where `make build` wrote the zips, default ../dist),
// caBundle (AWS's RDS CA bundle, optional), secretAccount,
// functionAccount and region for the cross-account stacks;
// placeholderDist=DIR writes a placeholder zip for every function there
// and uses it, to check the templates without `make build` (make test-cdk).
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/rotatorkit/rotator/cdk/example/stacks"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	c := stacks.ContextOf(app)
	if dir, ok := app.Node().TryGetContext(jsii.String("placeholderDist")).(string); ok && dir != "" {
		if err := stacks.WritePlaceholderZips(dir); err != nil {
			fmt.Fprintln(os.Stderr, "example:", err)
			os.Exit(1)
		}
		c.DistDir = dir
	}
	if err := stacks.NewApp(app, c); err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
	// cdk-nag's AwsSolutions pack: an unsuppressed error fails the synth.
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	app.Synth(nil)
}
