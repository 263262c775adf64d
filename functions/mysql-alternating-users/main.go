// mysql-alternating-users rotates a pair of MySQL or MariaDB accounts (an
// account and its clone, or an allowed pre-created pair), changed by the
// master user of the secret's "masterarn".
package main

import (
	"context"

	"github.com/rotatorkit/rotator/engines/mysql"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/strategies/alternating"
)

func main() {
	rotator.StartLambda(func(context.Context) (rotator.Strategy, error) {
		engine, err := mysql.NewFromEnv() // $ROTATOR_MYSQL_CA_BUNDLE, $ROTATOR_MYSQL_SSLMODE, ...
		if err != nil {
			return nil, err
		}
		pairs, err := alternating.AllowedPairsFromEnv() // $ROTATOR_ALTERNATING_PAIRS
		if err != nil {
			return nil, err
		}
		return alternating.New(engine, alternating.WithMaxUsernameLength(mysql.MaxUserNameLength), pairs), nil
	})
}
