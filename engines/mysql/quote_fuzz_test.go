package mysql

import (
	"errors"
	"strings"
	"testing"

	"github.com/rotatorkit/rotator/internal/mariadbtest"
)

// unquoteBacktick reads one backtick-quoted identifier at the start of q
// as MySQL's and MariaDB's lexers do: inside backticks only a backtick is
// special, and two stand for one (whatever sql_mode says about
// backslashes). It returns the identifier and the rest of q.
func unquoteBacktick(q string) (ident, rest string, err error) {
	if q == "" || q[0] != '`' {
		return "", "", errors.New("does not start with a backtick")
	}
	var b strings.Builder
	for i := 1; i < len(q); i++ {
		if q[i] != '`' {
			b.WriteByte(q[i])
			continue
		}
		if i+1 < len(q) && q[i+1] == '`' {
			b.WriteByte('`')
			i++
			continue
		}
		return b.String(), q[i+1:], nil
	}
	return "", "", errors.New("no closing backtick")
}

// FuzzQuoteAccount: an account the engine quotes (`user`@`host`) reads
// back, by the SQL rules, as exactly the user, an @, and exactly the host,
// with nothing left over; and the engine's own reader of what the server
// prints (tokenize) agrees.
func FuzzQuoteAccount(f *testing.F) {
	for _, s := range [][2]string{{"app", "%"}, {"o'brien`; DROP USER root; --", "127.0.0.1"}, {"`", "``"}, {"a@b", "h@st"}, {"ю", "\u202e"}, {"a\nb", "\\"}, {"", ""}, {"x\x00y", "%"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, user, host string) {
		if checkUserName("username", user) != nil || checkHostPart("userhost", host) != nil {
			return
		}
		a := account(user, host)
		u, rest, err := unquoteBacktick(a)
		if err != nil || u != user {
			t.Fatalf("account(%q, %q) = %s: user reads back as %q (%v)", user, host, a, u, err)
		}
		if !strings.HasPrefix(rest, "@") {
			t.Fatalf("account(%q, %q) = %s: no @ after the user", user, host, a)
		}
		h, rest, err := unquoteBacktick(rest[1:])
		if err != nil || h != host || rest != "" {
			t.Fatalf("account(%q, %q) = %s: host reads back as %q, rest %q (%v)", user, host, a, h, rest, err)
		}
		toks, ok := tokenize(a)
		if !ok || len(toks) != 3 || toks[0].kind != tokIdent || toks[0].val != user || toks[1].text != "@" || toks[2].kind != tokIdent || toks[2].val != host {
			t.Fatalf("tokenize(%s) = %+v, %v", a, toks, ok)
		}
	})
}

// The same property against a real server: a name quoted as the engine
// quotes it names a column the server reports back unchanged, and an
// account created under a quoted name is stored under that exact name.
func TestMySQLQuotedIdentifierRoundTrip(t *testing.T) {
	db := mariadbtest.Shared(t)
	conn := db.Admin(t)
	names := []string{"app", "o'brien`; DROP USER root; --", "`", "``", "a@b", "ю-юзер", "\u202eadmin", "a\nb\tc", `back\slash`, "select", "'; --", strings.Repeat("`", 40)}
	for _, name := range names {
		if err := checkUserName("username", name); err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		rows, err := conn.Query("SELECT 1 AS " + quoteIdent(name))
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		cols, err := rows.Columns()
		rows.Close()
		if err != nil || len(cols) != 1 || cols[0] != name {
			t.Errorf("the server reads %s as %q (%v), want %q", quoteIdent(name), cols, err, name)
		}
	}
	for _, name := range names[:6] {
		acct := account(name, "127.0.0.1")
		if _, err := conn.Exec("CREATE USER " + acct); err != nil {
			t.Fatalf("CREATE USER %s: %v", acct, err)
		}
		var n int
		err := conn.QueryRow("SELECT COUNT(*) FROM mysql.user WHERE User = ? AND Host = '127.0.0.1'", name).Scan(&n)
		if _, derr := conn.Exec("DROP USER " + acct); derr != nil {
			t.Errorf("DROP USER %s: %v", acct, derr)
		}
		if err != nil || n != 1 {
			t.Errorf("%s: %d accounts named %q (%v)", acct, n, name, err)
		}
	}
}
