package mysql

import (
	"strings"
)

// quoteIdent quotes an identifier with backticks. Inside backticks only a
// backtick is special (doubled), whatever sql_mode says about backslashes,
// so this is the one quoting the engine uses for names it did not make:
// user names, host parts, role names.
func quoteIdent(s string) string {
	return "`" + strings.ReplaceAll(s, "`", "``") + "`"
}

// account is the SQL form of an account name: `user`@`host`.
func account(user, host string) string {
	return quoteIdent(user) + "@" + quoteIdent(host)
}

// splitAccount splits CURRENT_USER()'s "user@host" at its last '@' (user
// names may hold '@', host parts do not).
func splitAccount(s string) (user, host string) {
	i := strings.LastIndexByte(s, '@')
	if i < 0 {
		return s, ""
	}
	return s[:i], s[i+1:]
}

// token is one token of a statement the server printed (SHOW GRANTS, SHOW
// CREATE USER).
type token struct {
	kind tokenKind
	text string // as printed
	val  string // identifiers and strings unquoted; words upper-cased
}

type tokenKind int

const (
	tokWord   tokenKind = iota // keywords, bare names, numbers, *
	tokIdent                   // `quoted`
	tokString                  // 'quoted'
	tokPunct                   // ( ) , . @ =
)

// tokenize splits a statement the server printed into tokens. It knows
// backtick identifiers (a doubled backtick inside), single- and
// double-quoted strings (a doubled quote or a backslash escape inside) and
// the punctuation of account and privilege lists. It returns false for
// text it cannot read.
func tokenize(s string) ([]token, bool) {
	var out []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '`':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, false
				}
				if s[j] == '`' {
					if j+1 < len(s) && s[j+1] == '`' {
						b.WriteByte('`')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			out = append(out, token{kind: tokIdent, text: s[i : j+1], val: b.String()})
			i = j + 1
		case c == '\'' || c == '"':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, false
				}
				if s[j] == '\\' && j+1 < len(s) {
					b.WriteByte(s[j+1])
					j += 2
					continue
				}
				if s[j] == c {
					if j+1 < len(s) && s[j+1] == c {
						b.WriteByte(c)
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			out = append(out, token{kind: tokString, text: s[i : j+1], val: b.String()})
			i = j + 1
		case strings.IndexByte("(),.@=", c) >= 0:
			out = append(out, token{kind: tokPunct, text: s[i : i+1], val: s[i : i+1]})
			i++
		default:
			j := i
			for j < len(s) && strings.IndexByte(" \t\n\r`'\"(),.@=", s[j]) < 0 {
				j++
			}
			out = append(out, token{kind: tokWord, text: s[i:j], val: strings.ToUpper(s[i:j])})
			i = j
		}
	}
	return out, true
}

// isWord reports whether tokens at i spell the given keywords.
func isWords(toks []token, i int, words ...string) bool {
	if i+len(words) > len(toks) {
		return false
	}
	for k, w := range words {
		if toks[i+k].kind != tokWord || toks[i+k].val != w {
			return false
		}
	}
	return true
}

// join prints tokens back as SQL, with the spacing the server uses.
func join(toks []token) string {
	var b strings.Builder
	for i, t := range toks {
		if i > 0 {
			prev := toks[i-1]
			noSpace := t.text == "," || t.text == "." || t.text == "@" || t.text == ")" ||
				prev.text == "." || prev.text == "@" || prev.text == "("
			if !noSpace {
				b.WriteByte(' ')
			}
		}
		b.WriteString(t.text)
	}
	return b.String()
}

// readAccount reads an account name (user@host, a role name, or user@host
// with quoted parts) at toks[i]; it returns the user, the host ("" for a
// MariaDB role) and the index after it.
func readAccount(toks []token, i int) (user, host string, next int, ok bool) {
	if i >= len(toks) || toks[i].kind == tokPunct {
		return "", "", i, false
	}
	user = toks[i].val
	if toks[i].kind == tokWord {
		user = toks[i].text
	}
	i++
	if i+1 < len(toks) && toks[i].text == "@" {
		host = toks[i+1].val
		if toks[i+1].kind == tokWord {
			host = toks[i+1].text
		}
		i += 2
	}
	return user, host, i, true
}
