// Package sqlrotate makes database/sql connections through
// go-sql-driver/mysql (MySQL and MariaDB) log in with the user name and
// password of a rotated AWS Secrets Manager secret, read through a
// [secretcache.Cache]: a [MySQLConnector] for sql.OpenDB.
//
//	cfg := mysql.NewConfig()
//	cfg.Net, cfg.Addr, cfg.DBName = "tcp", "db.example.com:3306", "app"
//	connector, err := sqlrotate.NewMySQLConnector(cfg, cache, "prod/app/mysql")
//	db := sql.OpenDB(connector)
//
// It behaves as client/pgxrotate's database/sql connector does, with MySQL's
// refusal (error 1045, Access denied) in place of PostgreSQL's 28P01: a
// refused login is retried inside Connect with a value fetched after the
// refusal (AWSPENDING's between a single-user rotation's setSecret and
// finishSecret); connections made with an older credential are closed on
// release. The PostgreSQL connector lives in client/pgxrotate, next to the
// pgxpool support, since both share pgx's configuration.
package sqlrotate
