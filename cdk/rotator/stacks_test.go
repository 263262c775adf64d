package rotator_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/rotatorkit/rotator/cdk/example/stacks"
	"github.com/rotatorkit/rotator/cdk/rotator"
)

// exampleContext is the example app's defaults with the test's zips.
func exampleContext() stacks.Context {
	return stacks.Context{DistDir: distDir, Region: "eu-west-1", SecretAccount: "111111111111", FunctionAccount: "222222222222"}
}

// cdk-nag's AwsSolutions pack finds no unsuppressed error or warning in
// any of the example app's stacks, and every suppression gives a reason.
func TestExampleStacksPassCdkNagAwsSolutions(t *testing.T) {
	app := awscdk.NewApp(nil)
	if err := stacks.NewApp(app, exampleContext()); err != nil {
		t.Fatal(err)
	}
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	n := 0
	for _, c := range *app.Node().Children() {
		stack, ok := c.(awscdk.Stack)
		if !ok {
			continue
		}
		n++
		ann := assertions.Annotations_FromStack(stack)
		anything := assertions.Match_StringLikeRegexp(jsii.String(".*"))
		for _, m := range *ann.FindError(jsii.String("*"), anything) {
			t.Errorf("%s: error at %s: %v", *stack.StackName(), *m.Id, m.Entry.Data)
		}
		for _, m := range *ann.FindWarning(jsii.String("*"), anything) {
			data, _ := json.Marshal(m.Entry.Data)
			// CDK's own advice on feature flags is not a finding.
			if strings.Contains(string(data), "AwsSolutions") || strings.Contains(string(data), "CdkNag") {
				t.Errorf("%s: warning at %s: %s", *stack.StackName(), *m.Id, data)
			}
		}
		tpl := template(t, stack)
		for id, r := range tpl["Resources"].(map[string]any) {
			meta, _ := r.(map[string]any)["Metadata"].(map[string]any)
			nag, _ := meta["cdk_nag"].(map[string]any)
			rules, _ := nag["rules_to_suppress"].([]any)
			for _, rule := range rules {
				rule := rule.(map[string]any)
				if reason, _ := rule["reason"].(string); len(strings.TrimSpace(reason)) < 20 {
					t.Errorf("%s/%s: suppression of %v without a reason", *stack.StackName(), id, rule["id"])
				}
			}
		}
	}
	if n != 5 {
		t.Errorf("%d example stacks, want 5", n)
	}
}

// The example rotations are what the README describes: alternating users
// with the master secret, the single-user master, the SendGrid key by
// name, and the cross-account function with the key conditioned on
// Secrets Manager.
func TestExampleStacks(t *testing.T) {
	app := awscdk.NewApp(nil)
	pg, err := stacks.NewPostgres(app, "Pg", &stacks.Props{DistDir: distDir})
	if err != nil {
		t.Fatal(err)
	}
	tpl := template(t, pg.Stack)
	if n := len(resources(tpl, "AWS::SecretsManager::RotationSchedule")); n != 2 {
		t.Errorf("%d rotation schedules, want 2 (master and app user)", n)
	}
	// The master rotates at once; the application user waits for its user.
	for r, immediately := range map[*rotator.Rotation]bool{pg.MasterRotation: true, pg.AppUserRotation: false} {
		sched := resources(tpl, "AWS::SecretsManager::RotationSchedule")[logicalID(r.Schedule)]["Properties"].(map[string]any)
		equal(t, logicalID(r.Schedule)+" RotateImmediatelyOnUpdate", sched["RotateImmediatelyOnUpdate"], immediately)
	}
	endpoint := only(t, tpl, "AWS::EC2::VPCEndpoint")
	if !strings.Contains(mustJSON(t, endpoint["ServiceName"]), "secretsmanager") {
		t.Errorf("endpoint service %v", endpoint["ServiceName"])
	}
	// Only the two functions may reach the endpoint.
	var fromFunctions []string
	for _, r := range resources(tpl, "AWS::EC2::SecurityGroupIngress") {
		p := r["Properties"].(map[string]any)
		if p["FromPort"] == 443.0 {
			fromFunctions = append(fromFunctions, mustJSON(t, p["SourceSecurityGroupId"]))
		}
	}
	sort.Strings(fromFunctions)
	want := []string{mustJSON(t, getAtt(pg.AppUserRotation.SecurityGroup, "GroupId")), mustJSON(t, getAtt(pg.MasterRotation.SecurityGroup, "GroupId"))}
	sort.Strings(want)
	equal(t, "endpoint ingress", fromFunctions, want)

	x, err := stacks.NewCrossAccount(awscdk.NewApp(nil), "X", &stacks.CrossAccountProps{
		DistDir: distDir, Region: "eu-west-1", SecretAccount: "111111111111", FunctionAccount: "222222222222",
		FunctionName: "fn", RoleName: "role", SecretName: "shared/secret",
	})
	if err != nil {
		t.Fatal(err)
	}
	fnTpl := template(t, x.Function)
	secretARN := "arn:aws:secretsmanager:eu-west-1:111111111111:secret:shared/secret-??????"
	equal(t, "function account's permission", only(t, fnTpl, "AWS::Lambda::Permission")["SourceArn"], secretARN)
	equal(t, "function account's permission account", only(t, fnTpl, "AWS::Lambda::Permission")["SourceAccount"], "111111111111")
	statements := rolePolicy(t, fnTpl)
	equal(t, "function account's role", statements[:2], []any{
		statement("RotateTheSecret", rotateActions, secretARN, nil),
		statement("UseTheSecretsKey", []any{"kms:Decrypt", "kms:GenerateDataKey"}, map[string]any{"Ref": "KeyArn"}, map[string]any{
			"StringEquals": map[string]any{"kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com"},
			"StringLike":   map[string]any{"kms:EncryptionContext:SecretARN": secretARN},
		}),
	})
	secretTpl := template(t, x.Secret)
	policy := only(t, secretTpl, "AWS::SecretsManager::ResourcePolicy")["ResourcePolicy"].(map[string]any)
	equal(t, "secret's resource policy", policy["Statement"], []any{map[string]any{
		"Sid": "RotatorInTheFunctionAccount", "Effect": "Allow", "Action": rotateActions, "Resource": "*",
		"Principal": map[string]any{"AWS": inPartition(":iam::222222222222:root")},
		"Condition": map[string]any{"ArnEquals": map[string]any{"aws:PrincipalArn": "arn:aws:iam::222222222222:role/role"}},
	}})
	keyPolicy := only(t, secretTpl, "AWS::KMS::Key")["KeyPolicy"].(map[string]any)["Statement"].([]any)
	var grant any
	for _, st := range keyPolicy {
		if st.(map[string]any)["Sid"] == "RotatorInTheFunctionAccount" {
			grant = st
		}
	}
	equal(t, "key policy's grant", grant, map[string]any{
		"Sid": "RotatorInTheFunctionAccount", "Effect": "Allow", "Action": []any{"kms:Decrypt", "kms:GenerateDataKey"}, "Resource": "*",
		"Principal": map[string]any{"AWS": inPartition(":iam::222222222222:root")},
		"Condition": map[string]any{
			"ArnEquals":    map[string]any{"aws:PrincipalArn": "arn:aws:iam::222222222222:role/role"},
			"StringEquals": map[string]any{"kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com"},
		},
	})
	equal(t, "schedule", only(t, template(t, x.Schedule), "AWS::SecretsManager::RotationSchedule"), map[string]any{
		"SecretId": inPartition(":secretsmanager:eu-west-1:111111111111:secret:shared/secret"), "RotationLambdaARN": "arn:aws:lambda:eu-west-1:222222222222:function:fn",
		"RotationRules": map[string]any{"AutomaticallyAfterDays": 30}, "RotateImmediatelyOnUpdate": true,
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Every function under functions/ in the repository is one the constructs
// know by name, so that a new function cannot land without its entry.
func TestEveryRepositoryFunctionIsKnown(t *testing.T) {
	mains, err := filepath.Glob(filepath.Join(repoDir, "..", "..", "functions", "*", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	if len(mains) == 0 {
		t.Fatal("no functions/*/main.go found from " + repoDir)
	}
	for _, m := range mains {
		name := filepath.Base(filepath.Dir(m))
		if _, err := rotator.FunctionByName(name); err != nil {
			t.Errorf("functions/%s: %v: add it to cdk/rotator's Functions", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(repoDir, "..", "..", "Makefile")); err != nil {
		t.Fatal(err)
	}
}
