package catalog

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/strategies/single"
)

// Function is one built-in rotation function.
type Function struct {
	// Name is the function's name: the functions/ directory, the
	// bootstrap, and `rotator --function NAME`.
	Name string
	// Engine and Strategy name its parts ("postgres", "single-user").
	Engine, Strategy string
	// Summary says in one line what it rotates.
	Summary string
	// New builds the strategy the way the Lambda function does, from the
	// environment (engine settings such as $ROTATOR_PG_CA_BUNDLE).
	New func(ctx context.Context) (rotator.Strategy, error)
	// Preflight checks a secret's AWSCURRENT value for this function,
	// changing nothing.
	Preflight func(ctx context.Context, in PreflightInput) []Check
}

// Status is the result of a check.
type Status string

// The results of a check.
const (
	Pass Status = "PASS"
	Fail Status = "FAIL"
	Skip Status = "SKIP"
	// Warn: a rotation would work and achieve nothing (a server that
	// checks no password); `rotator preflight` exits 1 on it, as on Fail.
	Warn Status = "WARN"
)

// Check is one line of a preflight report. It never holds a secret value.
type Check struct {
	Name   string
	Status Status
	Detail string
	Fix    string
}

// PreflightInput is what a function's preflight checks get.
type PreflightInput struct {
	// Current is the AWSCURRENT value of the secret to rotate.
	Current *rotator.Secret
	// ARN is the secret's ARN as Secrets Manager returns it ("" when
	// unknown), to tell a master secret from the secret itself.
	ARN string
	// GetSecret reads another secret's AWSCURRENT value (a master
	// secret): id is a name or an ARN. It returns the value and the ARN
	// Secrets Manager returned for it.
	GetSecret func(ctx context.Context, id string) (s *rotator.Secret, arn string, err error)
}

var functions = map[string]Function{}

func register(f Function) { functions[f.Name] = f }

// Lookup returns the function called name.
func Lookup(name string) (Function, bool) {
	f, ok := functions[name]
	return f, ok
}

// MustLookup returns the function called name, or panics: for mains that
// name a function this package defines.
func MustLookup(name string) Function {
	f, ok := Lookup(name)
	if !ok {
		panic(fmt.Sprintf("catalog: no function %q (have %s)", name, strings.Join(Names(), ", ")))
	}
	return f
}

// Names returns the functions' names, sorted.
func Names() []string {
	names := make([]string, 0, len(functions))
	for n := range functions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// All returns the functions sorted by name.
func All() []Function {
	out := make([]Function, 0, len(functions))
	for _, n := range Names() {
		out = append(out, functions[n])
	}
	return out
}

func init() {
	register(Function{
		Name:     "postgres-single-user",
		Engine:   "postgres",
		Strategy: "single-user",
		Summary:  "PostgreSQL: the user changes its own password",
		New: func(context.Context) (rotator.Strategy, error) {
			e, err := newPostgres()
			if err != nil {
				return nil, err
			}
			return single.New(e), nil
		},
		Preflight: postgresSinglePreflight,
	})
	register(Function{
		Name:     "postgres-alternating-users",
		Engine:   "postgres",
		Strategy: "alternating-users",
		Summary:  "PostgreSQL: two users take turns; a master secret (\"masterarn\") sets passwords and creates the clone",
		New: func(context.Context) (rotator.Strategy, error) {
			e, err := newPostgres()
			if err != nil {
				return nil, err
			}
			return newAlternating(e)
		},
		Preflight: postgresAlternatingPreflight,
	})
}
