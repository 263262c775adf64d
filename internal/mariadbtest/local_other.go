//go:build !unix

package mariadbtest

import "context"

func startLocal(context.Context, config) (*Server, string, error) {
	return nil, "local MariaDB servers need a Unix system", nil
}
