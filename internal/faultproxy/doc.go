// Package faultproxy is a TCP proxy for tests that breaks the connection to
// a real server on command: it refuses connections, drops the open ones,
// delays traffic, and cuts a connection after a number of bytes or when
// the client sends a given command, either before the command reaches the
// server or after the server answered it (the server applied the change,
// the client never hears so). It knows no protocol: commands and answers
// are byte patterns (a PostgreSQL statement's text, its ReadyForQuery
// message), so it serves a server without TLS.
//
//	p, err := faultproxy.Start("127.0.0.1:5432")
//	defer p.Close()
//	p.AddRule(faultproxy.Rule{After: []byte("ALTER ROLE"), Match: []byte("commit"),
//		Action: faultproxy.CutAfterReply, Reply: faultproxy.PostgresReady})
package faultproxy
