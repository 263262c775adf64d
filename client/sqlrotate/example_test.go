package sqlrotate_test

import (
	"database/sql"

	"github.com/go-sql-driver/mysql"

	"github.com/rotatorkit/rotator/client/secretcache"
	"github.com/rotatorkit/rotator/client/sqlrotate"
)

// README:begin mysql
// openMySQL opens a database/sql handle over go-sql-driver/mysql whose
// logins use the secret's user and password; cfg names the server.
func openMySQL(cache *secretcache.Cache) (*sql.DB, error) {
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr, cfg.DBName = "tcp", "db.example.com:3306", "app"
	cfg.TLSConfig = "true" // verify the server's certificate
	connector, err := sqlrotate.NewMySQLConnector(cfg, cache, "prod/app/mysql")
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(connector), nil
}

// README:end mysql

// Example compiles the README's example; it needs a database and an AWS
// account to run.
func Example() {
	var cache *secretcache.Cache // secretcache.New(secretsmanager.NewFromConfig(awsCfg))
	if db, err := openMySQL(cache); err == nil {
		defer db.Close()
	}
}
