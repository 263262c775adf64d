package integration

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5"

	"github.com/rotatorkit/rotator/internal/pgtest"
	"github.com/rotatorkit/rotator/rotator"
)

func putCurrentInput(arn, value string) *secretsmanager.PutSecretValueInput {
	return &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String(value)}
}

func quoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }

// exec runs sql as the secret's user or fails the test.
func exec(t *testing.T, pg *pgtest.Server, s *rotator.Secret, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pg.Connect(ctx, s.Username(), s.Password(), "")
	if err != nil {
		t.Fatalf("connect as %s: %v", s.Username(), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("as %s: %s: %v", s.Username(), sql, err)
	}
}

func roleExists(t *testing.T, pg *pgtest.Server, name string) bool {
	t.Helper()
	var n int
	if err := pg.Admin(t).QueryRow(context.Background(), "SELECT count(*) FROM pg_roles WHERE rolname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

func putPendingInput(arn, token, value string) *secretsmanager.PutSecretValueInput {
	return &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(arn), ClientRequestToken: aws.String(token),
		SecretString: aws.String(value), VersionStages: []string{"AWSPENDING"},
	}
}
