package mariadbtest

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/rotatorkit/rotator/engines/mysql/mysqlhash"
)

// secureAccounts leaves two accounts: root@localhost (the socket) and
// root@127.0.0.1, both with the rig's password (its hash: the plaintext
// never reaches the server), every privilege and GRANT OPTION.
//
// The hash is mysql_native_password's on MariaDB and caching_sha2_password's
// on MySQL (8.4 loads mysql_native_password only on request).
func secureAccounts(ctx context.Context, root *sql.DB, s *Server) error {
	var version string
	if err := root.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return fmt.Errorf("mariadbtest: %w", err)
	}
	auth, err := hashedAuth(strings.Contains(strings.ToLower(version), "mariadb"), s.SuperPassword)
	if err != nil {
		return err
	}
	rows, err := root.QueryContext(ctx, "SELECT User, Host FROM mysql.user")
	if err != nil {
		return fmt.Errorf("mariadbtest: %w", err)
	}
	type acct struct{ user, host string }
	var all []acct
	for rows.Next() {
		var a acct
		if err := rows.Scan(&a.user, &a.host); err != nil {
			rows.Close()
			return fmt.Errorf("mariadbtest: %w", err)
		}
		all = append(all, a)
	}
	rows.Close()
	var stmts []string
	haveTCP := false
	for _, a := range all {
		switch {
		case a.user == "root" && (a.host == "localhost" || a.host == s.SuperHost):
			stmts = append(stmts, "ALTER USER "+Account(a.user, a.host)+" "+auth)
			haveTCP = haveTCP || a.host == s.SuperHost
		case a.user == "mariadb.sys" || a.user == "mysql.sys" || a.user == "mysql.session" || a.user == "mysql.infoschema":
		default:
			stmts = append(stmts, "DROP USER "+Account(a.user, a.host))
		}
	}
	if !haveTCP {
		acct := Account(s.SuperUser, s.SuperHost)
		stmts = append(stmts, "CREATE USER "+acct+" "+auth,
			"GRANT ALL PRIVILEGES ON *.* TO "+acct+" WITH GRANT OPTION",
			"GRANT PROXY ON ''@'%' TO "+acct+" WITH GRANT OPTION")
	}
	for _, q := range stmts {
		if _, err := root.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("mariadbtest: %s: %w", q, err)
		}
	}
	return nil
}

// hashedAuth is the IDENTIFIED clause that sets password by its hash,
// computed here, so the plaintext never reaches the server: MariaDB's
// mysql_native_password, MySQL's caching_sha2_password.
func hashedAuth(mariaDB bool, password string) (string, error) {
	if mariaDB {
		return "IDENTIFIED BY PASSWORD '" + mysqlhash.Native(password) + "'", nil
	}
	salt, err := mysqlhash.NewSalt(mysqlhash.CachingSHA2SaltLen)
	if err != nil {
		return "", fmt.Errorf("mariadbtest: %w", err)
	}
	h, err := mysqlhash.CachingSHA2(password, salt)
	if err != nil {
		return "", fmt.Errorf("mariadbtest: %w", err)
	}
	return "IDENTIFIED WITH caching_sha2_password AS '" + h + "'", nil
}
