package rotator_test

import (
	"fmt"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/jsii-runtime-go"

	"github.com/rotatorkit/rotator/cdk/rotator"
)

// README:begin cdk
// rotateAppUser rotates appSecret, an application user's secret on db,
// every week with Rotator's alternating-users function, deployed from
// dist/arm64/postgres-alternating-users.zip (make build).
func rotateAppUser(stack awscdk.Stack, vpc awsec2.IVpc, db awsrds.DatabaseInstance, appSecret awssecretsmanager.ISecret) error {
	_, err := rotator.NewRotation(stack, "AppUserRotation", &rotator.RotationProps{
		Function:     rotator.PostgresAlternatingUsers,
		Secret:       appSecret,
		MasterSecret: db.Secret(), // what the secret's "masterarn" names
		Vpc:          vpc,
		Database:     db, // the function may reach the database's port
		Schedule:     rotator.Schedule{AutomaticallyAfter: 7 * 24 * time.Hour, Window: 2 * time.Hour},
	})
	return err
}

// README:end cdk

// The README's example, on a new VPC and database.
func ExampleNewRotation() {
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Example"), nil)
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), nil)
	db := awsrds.NewDatabaseInstance(stack, jsii.String("Db"), &awsrds.DatabaseInstanceProps{
		Engine:           awsrds.DatabaseInstanceEngine_Postgres(&awsrds.PostgresInstanceEngineProps{Version: awsrds.PostgresEngineVersion_VER_17_6()}),
		Vpc:              vpc,
		StorageEncrypted: jsii.Bool(true),
	})
	appSecret := awssecretsmanager.NewSecret(stack, jsii.String("AppSecret"), nil)
	if err := rotateAppUser(stack, vpc, db, appSecret); err != nil {
		fmt.Println(err)
		return
	}
	tpl := assertions.Template_FromStack(stack, nil)
	for _, typ := range []string{"AWS::Lambda::Function", "AWS::Lambda::Permission", "AWS::SecretsManager::RotationSchedule", "AWS::Logs::LogGroup"} {
		for _, r := range *tpl.FindResources(jsii.String(typ), nil) {
			props := (*r)["Properties"].(map[string]any)
			switch typ {
			case "AWS::Lambda::Function":
				fmt.Println(typ, props["Runtime"], props["Architectures"], props["ReservedConcurrentExecutions"])
			case "AWS::Lambda::Permission":
				fmt.Println(typ, props["Principal"])
			case "AWS::SecretsManager::RotationSchedule":
				fmt.Println(typ, props["RotationRules"])
			case "AWS::Logs::LogGroup":
				fmt.Println(typ, props["RetentionInDays"])
			}
		}
	}
	// Output:
	// AWS::Lambda::Function provided.al2023 [arm64] 1
	// AWS::Lambda::Permission secretsmanager.amazonaws.com
	// AWS::SecretsManager::RotationSchedule map[AutomaticallyAfterDays:7 Duration:2h]
	// AWS::Logs::LogGroup 90
}
