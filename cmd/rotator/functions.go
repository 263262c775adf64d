package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/rotatorkit/rotator/engines/apikey/datadog"
	"github.com/rotatorkit/rotator/engines/apikey/okta"
	"github.com/rotatorkit/rotator/engines/apikey/sendgrid"
	"github.com/rotatorkit/rotator/engines/apikey/twilio"
	"github.com/rotatorkit/rotator/engines/apikey/webhook"
	"github.com/rotatorkit/rotator/engines/mysql"
	"github.com/rotatorkit/rotator/engines/postgres"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/strategies/alternating"
	"github.com/rotatorkit/rotator/strategies/dualkey"
	"github.com/rotatorkit/rotator/strategies/dualpassword"
	"github.com/rotatorkit/rotator/strategies/single"
)

// function is one built-in rotation function: the same engine and
// strategy, built from the same environment, as its Lambda main
// (functions/<Name>/main.go; a test keeps the two lists equal). Adding an
// engine adds its lines here (ARCHITECTURE.md: adding an engine).
type function struct {
	// Name is the functions/ directory, the bootstrap's, and --function's.
	Name string
	// Engine and Strategy name its parts ("postgres", "single-user").
	Engine, Strategy string
	// Summary says in one line what it rotates.
	Summary string
	// New builds the strategy the way the Lambda function does.
	New func(ctx context.Context) (rotator.Strategy, error)
	// Env lists the environment variables New reads, for the fix of a
	// configuration error (none for an engine that reads none).
	Env []string
	// Example is a secret value this function rotates, for the fix of a
	// malformed one ("" means a database secret's).
	Example string
	// Bootstrap is the path of a user's own bootstrap (--function
	// ./path/to/bootstrap); New is nil then, and the command runs it under
	// a local Lambda Runtime API.
	Bootstrap string
}

var (
	pgEnv    = []string{postgres.EnvCABundle, postgres.EnvSSLMode, postgres.EnvAllowMD5, postgres.EnvAllowCleartext}
	mysqlEnv = []string{mysql.EnvCABundle, mysql.EnvSSLMode, mysql.EnvAllowCleartext}
)

var builtins = []function{
	{
		Name: "mysql-single-user", Engine: "mysql", Strategy: "single-user",
		Summary: "MySQL or MariaDB: the account changes its own password",
		New: func(context.Context) (rotator.Strategy, error) {
			e, err := mysql.NewFromEnv()
			if err != nil {
				return nil, err
			}
			return single.New(e), nil
		},
		Env: mysqlEnv,
	},
	{
		Name: "mysql-alternating-users", Engine: "mysql", Strategy: "alternating-users",
		Summary: "MySQL or MariaDB: two accounts take turns; a master secret (\"masterarn\") sets passwords and creates the clone",
		New: func(context.Context) (rotator.Strategy, error) {
			e, err := mysql.NewFromEnv()
			if err != nil {
				return nil, err
			}
			pairs, err := alternating.AllowedPairsFromEnv()
			if err != nil {
				return nil, err
			}
			return alternating.New(e, alternating.WithMaxUsernameLength(mysql.MaxUserNameLength), pairs), nil
		},
		Env: append([]string{alternating.EnvAllowedPairs}, mysqlEnv...),
	},
	{
		Name: "mysql-dual-password", Engine: "mysql", Strategy: "dual-password",
		Summary: "MySQL 8.0.14+: the new password is added beside the old one, which is discarded after the promotion",
		New: func(context.Context) (rotator.Strategy, error) {
			e, err := mysql.NewFromEnv()
			if err != nil {
				return nil, err
			}
			return dualpassword.New(e), nil
		},
		Env: mysqlEnv,
	},
	{
		Name: "postgres-alternating-users", Engine: "postgres", Strategy: "alternating-users",
		Summary: "PostgreSQL: two users take turns; a master secret (\"masterarn\") sets passwords and creates the clone",
		New: func(context.Context) (rotator.Strategy, error) {
			e, err := postgres.NewFromEnv()
			if err != nil {
				return nil, err
			}
			pairs, err := alternating.AllowedPairsFromEnv()
			if err != nil {
				return nil, err
			}
			return alternating.New(e, alternating.WithMaxUsernameLength(postgres.MaxIdentifierLength), pairs), nil
		},
		Env: append([]string{alternating.EnvAllowedPairs}, pgEnv...),
	},
	{
		Name: "postgres-single-user", Engine: "postgres", Strategy: "single-user",
		Summary: "PostgreSQL: the user changes its own password",
		New: func(context.Context) (rotator.Strategy, error) {
			e, err := postgres.NewFromEnv()
			if err != nil {
				return nil, err
			}
			return single.New(e), nil
		},
		Env: pgEnv,
	},
	{
		Name: "sendgrid-api-key", Engine: "sendgrid", Strategy: "api-key",
		Summary: "Twilio SendGrid: a new API key with the secret's scopes; the previous one is revoked one rotation later",
		New: func(context.Context) (rotator.Strategy, error) {
			e, err := sendgrid.NewFromEnv()
			if err != nil {
				return nil, err
			}
			return dualkey.New(e)
		},
		Example: `{"api_key":"SG....","scopes":["mail.send","api_keys.create","api_keys.read","api_keys.delete"]}`,
	},
	{
		Name: "webhook", Engine: "webhook", Strategy: "api-key",
		Summary: "your own system over Rotator's webhook contract (signed JSON over HTTPS): a new key; the previous one is revoked one rotation later",
		New: func(context.Context) (rotator.Strategy, error) {
			e, err := webhook.NewFromEnv()
			if err != nil {
				return nil, err
			}
			return dualkey.New(e)
		},
		Env:     []string{webhook.EnvCABundle},
		Example: `{"api_key":"...","key_id":"...","endpoint":"https://keys.example.com/rotator"}`,
	},
	{
		Name: "twilio-api-key", Engine: "twilio", Strategy: "api-key",
		Summary: "Twilio: a new Standard API key; the previous one is deleted one rotation later; the admin secret's auth token or Main key manages keys",
		New: func(context.Context) (rotator.Strategy, error) {
			e, err := twilio.NewFromEnv()
			if err != nil {
				return nil, err
			}
			return dualkey.New(e)
		},
		Env:     []string{twilio.EnvCreateAPI},
		Example: `{"account_sid":"AC...","api_key_sid":"SK...","api_key_secret":"...","adminarn":"arn:aws:secretsmanager:...:secret:twilio/admin"}`,
	},
	{
		Name: "datadog-api-key", Engine: "datadog", Strategy: "api-key",
		Summary: "Datadog: a new API key (or application key, DATADOG_KEY_TYPE=application) on the secret's site; the previous one is deleted one rotation later",
		New: func(context.Context) (rotator.Strategy, error) {
			e, err := datadog.NewFromEnv()
			if err != nil {
				return nil, err
			}
			return dualkey.New(e)
		},
		Env:     []string{datadog.EnvKeyType},
		Example: `{"site":"datadoghq.eu","api_key":"...","api_key_id":"...","adminarn":"arn:aws:secretsmanager:...:secret:datadog/admin"}`,
	},
	{
		Name: "okta-client-secret", Engine: "okta", Strategy: "api-key",
		Summary: "Okta: a new client secret of an OAuth app (two at most: the previous one is deactivated and deleted first), activated once stored",
		New: func(context.Context) (rotator.Strategy, error) {
			e, err := okta.NewFromEnv()
			if err != nil {
				return nil, err
			}
			return dualkey.New(e)
		},
		Env:     []string{okta.EnvAllowedHosts},
		Example: `{"org_url":"https://example.okta.com","client_id":"0oa...","client_secret":"...","client_secret_id":"ocs...","adminarn":"arn:aws:secretsmanager:...:secret:okta/admin"}`,
	},
}

func init() {
	sort.Slice(builtins, func(i, j int) bool { return builtins[i].Name < builtins[j].Name })
}

// lookupFunction returns the built-in function called name.
func lookupFunction(name string) (function, bool) {
	for _, f := range builtins {
		if f.Name == name {
			return f, true
		}
	}
	return function{}, false
}

// mustFunction is lookupFunction for names this command itself uses.
func mustFunction(name string) function {
	f, ok := lookupFunction(name)
	if !ok {
		panic(fmt.Sprintf("no built-in function %q (have %s)", name, strings.Join(functionNames(), ", ")))
	}
	return f
}

// functionNames returns the built-in functions' names, sorted.
func functionNames() []string {
	names := make([]string, len(builtins))
	for i, f := range builtins {
		names[i] = f.Name
	}
	return names
}

// Preflight builds the function's strategy as Lambda would and runs its
// checks: a configuration error (a bad variable) is the first failure.
func (f function) Preflight(ctx context.Context, in rotator.PreflightInput) []rotator.Check {
	s, err := f.New(ctx)
	if err != nil {
		fix := "correct the function's configuration"
		if len(f.Env) > 0 {
			fix = "correct the function's environment: $" + strings.Join(f.Env, ", $")
		}
		return []rotator.Check{{Name: "function configuration", Status: rotator.CheckFail, Detail: err.Error(), Fix: fix}}
	}
	p, ok := s.(rotator.Preflighter)
	if !ok {
		return []rotator.Check{{Name: "function checks", Status: rotator.CheckSkip, Detail: "the strategy has no preflight checks"}}
	}
	return p.Preflight(ctx, in)
}
