package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rotatorkit/rotator/internal/pgtest"
)

// unquoteIdent reads a PostgreSQL quoted identifier as the server's lexer
// does (scan.l, xd): a double quote opens it, two double quotes inside
// stand for one, a lone double quote closes it, and the closing quote must
// end the text (one token, nothing after it). The server refuses a
// zero-length identifier and NUL bytes.
func unquoteIdent(q string) (string, error) {
	if len(q) < 2 || q[0] != '"' {
		return "", errors.New("does not start with a double quote")
	}
	var b strings.Builder
	for i := 1; i < len(q); i++ {
		if q[i] != '"' {
			b.WriteByte(q[i])
			continue
		}
		if i+1 < len(q) && q[i+1] == '"' {
			b.WriteByte('"')
			i++
			continue
		}
		if i != len(q)-1 {
			return "", errors.New("text after the closing quote")
		}
		if b.Len() == 0 {
			return "", errors.New("zero-length identifier")
		}
		return b.String(), nil
	}
	return "", errors.New("no closing quote")
}

// FuzzQuoteIdentifier: the identifier quoting the engine uses for role
// names (pgx's Identifier.Sanitize) always reads back, by the SQL rules,
// as one token naming exactly the identifier. Names holding NUL never
// reach it: checkRoleName refuses them, and the fuzz target checks that
// too.
func FuzzQuoteIdentifier(f *testing.F) {
	for _, s := range []string{"app", `App "User"; DROP ROLE postgres; --`, `"`, `""`, `a""b`, "ю", "\u202eadmin", "a\nb", "x\x00y", strings.Repeat(`"`, 63)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if err := checkRoleName("username", name); err != nil {
			if name != "" && !strings.Contains(name, "\x00") && len(name) <= maxIdentifierLen {
				t.Fatalf("checkRoleName refused %q: %v", name, err)
			}
			return
		}
		q := quote(name)
		got, err := unquoteIdent(q)
		if err != nil {
			t.Fatalf("quote(%q) = %s: %v", name, q, err)
		}
		if got != name {
			t.Fatalf("quote(%q) = %s reads back as %q", name, q, got)
		}
		if utf8.ValidString(name) != utf8.ValidString(q) {
			t.Fatalf("quoting changed the text's encoding validity")
		}
	})
}

// The same property against the real parser: each name, quoted as the
// engine quotes it, names a column whose name the server reports back
// unchanged.
func TestPostgresQuotedIdentifierRoundTrip(t *testing.T) {
	pg := pgtest.Shared(t)
	conn := pg.Admin(t)
	names := []string{"app", `App "User"; DROP ROLE postgres; --`, `"`, `""`, `a""b`, "ю-юзер", "\u202eadmin", "a\nb\tc", `back\slash`, "$1", "select", "'; --", strings.Repeat(`"`, 63), strings.Repeat("é", 31)}
	for _, name := range names {
		if err := checkRoleName("username", name); err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		rows, err := conn.Query(context.Background(), "SELECT 1 AS "+quote(name))
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		got := string(rows.FieldDescriptions()[0].Name)
		rows.Close()
		if got != name {
			t.Errorf("the server reads %s as %q, want %q", quote(name), got, name)
		}
		if u, err := unquoteIdent(quote(name)); err != nil || u != name {
			t.Errorf("unquoteIdent disagrees with the server on %q: %q, %v", name, u, err)
		}
	}
}
