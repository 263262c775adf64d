// mysql-single-user rotates a MySQL or MariaDB account that changes its own
// password (RDS, Aurora MySQL, self-managed).
package main

import (
	"context"

	"github.com/rotatorkit/rotator/engines/mysql"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/strategies/single"
)

func main() {
	rotator.StartLambda(func(context.Context) (rotator.Strategy, error) {
		engine, err := mysql.NewFromEnv() // $ROTATOR_MYSQL_CA_BUNDLE, $ROTATOR_MYSQL_SSLMODE, ...
		if err != nil {
			return nil, err
		}
		return single.New(engine), nil
	})
}
