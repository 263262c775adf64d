package mariadbtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"

	"github.com/rotatorkit/rotator/engines/mysql/mysqlhash"
)

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// secureAccounts leaves two accounts: root@localhost (the socket) and
// root@127.0.0.1, both with the rig's password (its hash: the plaintext
// never reaches the server), every privilege and GRANT OPTION.
func secureAccounts(ctx context.Context, root *sql.DB, s *Server) error {
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
	hash := mysqlhash.Native(s.SuperPassword)
	var stmts []string
	haveTCP := false
	for _, a := range all {
		switch {
		case a.user == "root" && (a.host == "localhost" || a.host == s.SuperHost):
			stmts = append(stmts, "ALTER USER "+Account(a.user, a.host)+" IDENTIFIED BY PASSWORD '"+hash+"'")
			haveTCP = haveTCP || a.host == s.SuperHost
		case a.user == "mariadb.sys" || a.user == "mysql.sys" || a.user == "mysql.session" || a.user == "mysql.infoschema":
		default:
			stmts = append(stmts, "DROP USER "+Account(a.user, a.host))
		}
	}
	if !haveTCP {
		acct := Account(s.SuperUser, s.SuperHost)
		stmts = append(stmts, "CREATE USER "+acct+" IDENTIFIED BY PASSWORD '"+hash+"'",
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

// errPortTaken: the server could not listen on the port it was given.
var errPortTaken = errors.New("port taken")
