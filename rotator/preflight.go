package rotator

import "context"

// CheckStatus is the result of one preflight check.
type CheckStatus string

// The results of a check.
const (
	CheckPass CheckStatus = "PASS"
	CheckFail CheckStatus = "FAIL"
	// CheckWarn: a rotation would work and prove nothing (a server that
	// checks no password); `rotator preflight` exits 1 on it, as on FAIL.
	CheckWarn CheckStatus = "WARN"
	// CheckSkip: not applicable, or not possible after an earlier failure.
	CheckSkip CheckStatus = "SKIP"
)

// Check is one line of a preflight report. It never holds a secret value.
type Check struct {
	// Name says what was checked ("field host", "TCP connect", "login with AWSCURRENT").
	Name string
	// Status is the result.
	Status CheckStatus
	// Detail says what was found.
	Detail string
	// Fix says how to repair a failure or a warning ("" otherwise).
	Fix string
}

// PreflightInput is what a strategy's preflight gets: the secret as a
// rotation would read it, and a way to read the others it names.
type PreflightInput struct {
	// Current is the AWSCURRENT value of the secret to rotate.
	Current *Secret
	// ARN is the secret's ARN as Secrets Manager returns it ("" when
	// unknown), to tell a master secret from the secret itself.
	ARN string
	// GetSecret reads another secret's AWSCURRENT value (a master or admin
	// secret): id is a name or an ARN. It returns the value and the ARN
	// Secrets Manager returned for it.
	GetSecret func(ctx context.Context, id string) (s *Secret, arn string, err error)
}

// Preflighter is implemented by strategies that can check, changing
// nothing, everything a rotation of a secret needs: its fields, the
// network path, the logins, the privileges. Engines provide the checks of
// their own system; the strategy puts them in order. The command line
// prints the result (`rotator preflight`).
type Preflighter interface {
	Preflight(ctx context.Context, in PreflightInput) []Check
}

// PreflightMasterRequest asks an engine to check, as the master, the
// privileges an alternating-users rotation needs.
type PreflightMasterRequest struct {
	// Master is the master secret, its connection fields filled in.
	Master *Secret
	// Users are the users whose passwords the master sets (both users of
	// the pair).
	Users []string
	// Template, when set, is the user the clone is a twin of.
	Template string
	// Clone is the user made as Template's twin; it may not exist yet.
	// Empty when both users are pre-created.
	Clone string
	// Account, when set, is the rotated secret: engines read
	// account-level fields from it, such as MySQL's "userhost".
	Account *Secret
}
