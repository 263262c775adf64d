package rotator

import (
	"fmt"
	"regexp"
)

// SecondSecret says which other secret a function reads besides the one it
// rotates, and under which field of the rotated secret's value it finds
// that secret's ARN.
type SecondSecret int

const (
	// NoSecondSecret: the function uses the rotated secret's own
	// credential only (single user, dual password).
	NoSecondSecret SecondSecret = iota
	// MasterRequired: a master secret ("masterarn") changes the
	// passwords (alternating users); RotationProps.MasterSecret is required.
	MasterRequired
	// AdminOptional: an admin secret ("adminarn") manages the keys where
	// the key cannot manage itself; RotationProps.AdminSecret is optional.
	AdminOptional
)

// Function describes one Rotator Lambda function: the folder under
// functions/ it is built from (make build writes dist/<arch>/<Name>.zip),
// and what it needs to run. The package's variables describe the built-in
// functions; a function of your own, built on the framework, is described
// by a Function value of your own.
type Function struct {
	// Name is the function's folder under functions/ and its zip's name.
	Name string
	// Second is the other secret it reads, if any.
	Second SecondSecret
	// Database: the function logs in to a database server, so it usually
	// runs in the database's VPC and generates passwords (the password
	// policy applies).
	Database bool
	// CABundleEnv is the variable naming the CA bundle file the engine
	// verifies servers with ("" when the engine takes none: the vendors'
	// public APIs are verified against the system's roots).
	CABundleEnv string
}

// The built-in functions (functions/<Name> in the repository).
var (
	PostgresSingleUser       = Function{Name: "postgres-single-user", Database: true, CABundleEnv: "ROTATOR_PG_CA_BUNDLE"}
	PostgresAlternatingUsers = Function{Name: "postgres-alternating-users", Second: MasterRequired, Database: true, CABundleEnv: "ROTATOR_PG_CA_BUNDLE"}
	MySQLSingleUser          = Function{Name: "mysql-single-user", Database: true, CABundleEnv: "ROTATOR_MYSQL_CA_BUNDLE"}
	MySQLAlternatingUsers    = Function{Name: "mysql-alternating-users", Second: MasterRequired, Database: true, CABundleEnv: "ROTATOR_MYSQL_CA_BUNDLE"}
	MySQLDualPassword        = Function{Name: "mysql-dual-password", Database: true, CABundleEnv: "ROTATOR_MYSQL_CA_BUNDLE"}
	SendGridAPIKey           = Function{Name: "sendgrid-api-key", Second: AdminOptional}
	TwilioAPIKey             = Function{Name: "twilio-api-key", Second: AdminOptional}
	DatadogAPIKey            = Function{Name: "datadog-api-key", Second: AdminOptional}
	OktaClientSecret         = Function{Name: "okta-client-secret", Second: AdminOptional}
	Webhook                  = Function{Name: "webhook", Second: AdminOptional, CABundleEnv: "ROTATOR_WEBHOOK_CA_BUNDLE"}
)

// Functions lists the built-in functions.
func Functions() []Function {
	return []Function{
		PostgresSingleUser, PostgresAlternatingUsers,
		MySQLSingleUser, MySQLAlternatingUsers, MySQLDualPassword,
		SendGridAPIKey, TwilioAPIKey, DatadogAPIKey, OktaClientSecret, Webhook,
	}
}

// FunctionByName returns the built-in function called name.
func FunctionByName(name string) (Function, error) {
	for _, f := range Functions() {
		if f.Name == name {
			return f, nil
		}
	}
	return Function{}, fmt.Errorf("function %q: %w", name, ErrUnknownFunction)
}

// A name as a functions/ folder and a zip name: lower-case words and dashes.
var functionName = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

func (f Function) validate() error {
	if !functionName.MatchString(f.Name) {
		return fmt.Errorf("Function.Name %q: %w: lower-case letters, digits and dashes, as the folder under functions/", f.Name, ErrInvalidProps)
	}
	return nil
}

// secondField is the rotated secret's field naming the second secret.
func (f Function) secondField() string {
	switch f.Second {
	case MasterRequired:
		return "masterarn"
	case AdminOptional:
		return "adminarn"
	}
	return ""
}
