package mysql

import (
	"fmt"
	"strconv"
	"strings"
)

// serverInfo is the flavour and version of a server, read from the
// greeting of each connection.
type serverInfo struct {
	// raw is the version string the server sent.
	raw     string
	mariaDB bool
	major   int
	minor   int
	patch   int
}

// parseServerVersion reads a greeting's version string: "8.0.36",
// "8.0.36-0ubuntu0.22.04.1", "10.11.19-MariaDB-0+deb12u1-log" or, from
// MariaDB before 11, "5.5.5-10.11.19-MariaDB-..." (the replication prefix).
func parseServerVersion(v string) serverInfo {
	s := serverInfo{raw: v, mariaDB: strings.Contains(strings.ToLower(v), "mariadb")}
	rest := v
	if s.mariaDB {
		rest = strings.TrimPrefix(rest, "5.5.5-")
	}
	nums := []*int{&s.major, &s.minor, &s.patch}
	for i, n := range nums {
		j := 0
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		if j == 0 {
			break
		}
		*n, _ = strconv.Atoi(rest[:j])
		rest = rest[j:]
		if i < len(nums)-1 {
			if !strings.HasPrefix(rest, ".") {
				break
			}
			rest = rest[1:]
		}
	}
	return s
}

func (s serverInfo) String() string {
	name := "MySQL"
	if s.mariaDB {
		name = "MariaDB"
	}
	return fmt.Sprintf("%s %d.%d.%d", name, s.major, s.minor, s.patch)
}

// atLeast compares the version.
func (s serverInfo) atLeast(major, minor, patch int) bool {
	if s.major != major {
		return s.major > major
	}
	if s.minor != minor {
		return s.minor > minor
	}
	return s.patch >= patch
}

// maxUserNameLength is the server's limit on user names in characters.
func (s serverInfo) maxUserNameLength() int {
	switch {
	case s.mariaDB:
		return MaxUserNameLengthMariaDB
	case s.atLeast(5, 7, 8):
		return MaxUserNameLengthMySQL
	}
	return 16
}

// dualPassword: MySQL 8.0.14 and later keep a secondary password.
func (s serverInfo) dualPassword() bool { return !s.mariaDB && s.atLeast(8, 0, 14) }

// roles: MariaDB 10.0.5 and MySQL 8.0 have roles.
func (s serverInfo) roles() bool {
	if s.mariaDB {
		return s.atLeast(10, 0, 5)
	}
	return s.atLeast(8, 0, 0)
}
