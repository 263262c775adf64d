// mysql-dual-password rotates a MySQL 8.0.14+ account with dual passwords:
// the new password is added with RETAIN CURRENT PASSWORD, and the old one
// is discarded only after the new one is current.
package main

import (
	"context"

	"github.com/rotatorkit/rotator/engines/mysql"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/strategies/dualpassword"
)

func main() {
	rotator.StartLambda(func(context.Context) (rotator.Strategy, error) {
		engine, err := mysql.NewFromEnv() // $ROTATOR_MYSQL_CA_BUNDLE, $ROTATOR_MYSQL_SSLMODE, ...
		if err != nil {
			return nil, err
		}
		return dualpassword.New(engine), nil
	})
}
