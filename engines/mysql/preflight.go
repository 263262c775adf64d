package mysql

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rotatorkit/rotator/engines/internal/dbengine"
	"github.com/rotatorkit/rotator/rotator"
)

// Preflight checks: what a rotation needs, checked before one, changing
// nothing. Strategies compose them (the dual-password strategy's Preflight
// does); their texts never hold a password.

// PreflightConnection checks a secret the way a rotation uses it: its
// fields, DNS, a TCP connection, the TLS handshake (when the secret asks
// for TLS), a login with its credentials and the account it lands on
// (CURRENT_USER(), against "userhost" when set); after a login, one more
// with a random wrong password, a WARN "password check" when that logs in
// too. who prefixes the names ("master" for a master secret; "" for the
// rotated secret).
func (e *Engine) PreflightConnection(ctx context.Context, s *rotator.Secret, who string) []rotator.Check {
	name := dbengine.CheckNamer(who).Name
	if e.cfg.Err != nil {
		return []rotator.Check{dbengine.Fail(name("engine configuration"), e.cfg.Err.Error(),
			"correct $"+EnvCABundle+" / $"+EnvSSLMode+" / $"+EnvAllowCleartext+" (or the engine's options)")}
	}
	t, err := e.parse(s)
	if err != nil {
		field := "secret fields"
		var fe *rotator.FieldError
		if errors.As(err, &fe) {
			field = "field " + fe.Field
		} else if errors.Is(err, rotator.ErrWrongEngine) {
			field = "field engine"
		}
		return []rotator.Check{dbengine.Fail(name(field), err.Error(), pfFieldFix(err)),
			dbengine.Skip(name("login"), "the secret's fields are invalid")}
	}
	userHost := "the account the user logs in as"
	if t.userHost != "" {
		userHost = account(t.username, t.userHost)
	}
	out := []rotator.Check{dbengine.Pass(name("secret fields"), fmt.Sprintf("host %s, port %d, username %q, password set, sslmode %s, account %s",
		t.host, t.port, t.username, t.tls.Mode, userHost))}

	addr := net.JoinHostPort(t.host, strconv.Itoa(t.port))
	start := time.Now()
	d := net.Dialer{Timeout: e.cfg.ConnectTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return append(out, pfTCPFailure(name("TCP connect"), addr, err, e.cfg.ConnectTimeout), dbengine.Skip(name("login"), "no TCP connection"))
	}
	_ = conn.Close()
	out = append(out, dbengine.Pass(name("TCP connect"), fmt.Sprintf("connected to %s in %s", addr, time.Since(start).Round(time.Millisecond))))

	if t.tls.Mode != SSLDisable {
		c := e.preflightTLS(ctx, t, name("TLS handshake"))
		out = append(out, c)
		if c.Status == rotator.CheckFail {
			return append(out, dbengine.Skip(name("login"), "the server cannot be reached as the secret says"))
		}
	}
	loginName := dbengine.CheckNamer(who).Login()
	sess, err := e.connect(ctx, "login", t)
	if err != nil {
		return append(out, dbengine.Fail(loginName, err.Error(), pfLoginFix(t, err)))
	}
	host, herr := e.selfAccount(ctx, sess, "login", t)
	sess.close()
	if herr != nil {
		return append(out, dbengine.Fail(loginName, herr.Error(), "set \"userhost\" to the host part of the account the user logs in as (or remove it), and check that no anonymous account ''@host matches first"))
	}
	transport := "plaintext"
	if sess.tls {
		transport = "TLS"
		if sess.verified {
			transport += ", certificate verified"
		}
	}
	out = append(out, dbengine.Pass(loginName, fmt.Sprintf("logged in as %s (%s, %s)", account(t.username, host), sess.server, transport)))
	wrong := *t
	wrong.password = "rotator-preflight-wrong-" + rand.Text()
	if ws, err := e.connect(ctx, "login", &wrong); err == nil {
		ws.close()
		out = append(out, rotator.Check{Name: name("password check"), Status: rotator.CheckWarn,
			Detail: fmt.Sprintf("the server let %q in with a random wrong password: it checks no password for this account, so the login above proves nothing and rotating the password protects nothing", t.username),
			Fix:    "give the account a password-checking authentication plugin (mysql_native_password, caching_sha2_password, ed25519)"})
	}
	return out
}

func pfFieldFix(err error) string {
	var fe *rotator.FieldError
	switch {
	case errors.Is(err, rotator.ErrWrongEngine):
		return "this function rotates MySQL and MariaDB: use the rotator for the secret's engine, or correct \"engine\" (mysql, mariadb, aurora or aurora-mysql)"
	case errors.As(err, &fe) && fe.Field == rotator.FieldHost:
		return "\"host\" must name one server: a DNS name or an IP address (for RDS, the instance or cluster endpoint)"
	case errors.As(err, &fe) && fe.Field == rotator.FieldPort:
		return "set \"port\" to the server's TCP port (MySQL's default is 3306)"
	case errors.As(err, &fe) && (fe.Field == FieldSSL || fe.Field == FieldSSLMode):
		return "use \"ssl\": true/false or \"sslmode\": disable, prefer, require, verify-ca or verify-full; when both are present they must agree"
	case errors.As(err, &fe) && fe.Field == FieldSSLRootCert:
		return "put the PEM text of the CA certificates in \"sslrootcert\" (or \"system\"); for a file, use $" + EnvCABundle
	case errors.As(err, &fe) && fe.Field == FieldUserHost:
		return "set \"userhost\" to the host part of the account ('%' for any host), or remove it"
	}
	return "correct the field in the secret"
}

func pfTCPFailure(name, addr string, err error, timeout time.Duration) rotator.Check {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return dbengine.Fail(name, "connection to "+addr+" refused: nothing listens there", "check \"port\", and that the server runs and listens on that address (bind-address)")
	case isTimeout(err) || errors.Is(err, context.DeadlineExceeded):
		return dbengine.Fail(name, fmt.Sprintf("no answer from %s within %v: packets are dropped", addr, timeout),
			"allow inbound TCP to the database port from where the rotation runs (security group, network ACL)")
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dbengine.Fail(name, "cannot resolve the host: "+dnsErr.Error(), "check \"host\"; a Lambda function in a VPC resolves through the VPC's DNS")
	}
	return dbengine.Fail(name, "cannot connect to "+addr+": "+err.Error(), "check \"host\" and \"port\", and the network between the rotation and the database")
}

func pfLoginFix(t *target, err error) string {
	switch {
	case errors.Is(err, rotator.ErrLoginFailed):
		return "the secret's password is not the account's, or no account " + quoteIdent(t.username) + " matches the host the rotation connects from: set the password (as an admin) or store the working one in the secret"
	case errors.Is(err, ErrServerNoTLS):
		return "turn TLS on in the server (ssl_cert, ssl_key), or set \"sslmode\" to \"prefer\" or \"disable\""
	case errors.Is(err, ErrServerRequiresTLS):
		return "the server has require_secure_transport=ON: remove \"ssl\": false / \"sslmode\": \"disable\" from the secret"
	case errors.Is(err, ErrCertificate):
		return "make the certificate verifiable: see the TLS check"
	case errors.Is(err, ErrAuthMethod):
		return "verify the server's certificate (\"sslmode\": \"verify-full\" with its CA in \"sslrootcert\", $" + EnvCABundle + " or " + CABundleFile + " shipped with the function): without it the engine answers password challenges only"
	case errors.Is(err, ErrVerificationRequired):
		return "give the master secret its own \"host\" and \"port\", or configure the function's CA bundle ($" + EnvCABundle + ")"
	case errors.Is(err, rotator.ErrPermission):
		return "GRANT the user access to the database named in \"dbname\", or remove \"dbname\""
	}
	return "check the network path and the server's state"
}

// preflightTLS reads the server's greeting, asks for TLS as a client does
// and runs the handshake with the configuration a rotation uses.
func (e *Engine) preflightTLS(ctx context.Context, t *target, name string) rotator.Check {
	if t.tls.RequireBinding && t.tls.Roots == nil {
		return dbengine.Fail(name, "the secret requires verification against the function's CA bundle (\"channel_binding\": \"require\") and none is configured",
			"give the master secret its own \"host\" and \"port\", or configure $"+EnvCABundle)
	}
	ctx, cancel := context.WithTimeout(ctx, e.cfg.ConnectTimeout)
	defer cancel()
	addr := net.JoinHostPort(t.host, strconv.Itoa(t.port))
	d := net.Dialer{}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return pfTCPFailure(name, addr, err, e.cfg.ConnectTimeout)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	var hdr [4]byte
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		return dbengine.Fail(name, "the server sent no greeting: "+err.Error(), "check that "+addr+" is a MySQL or MariaDB server")
	}
	n := int(hdr[0]) | int(hdr[1])<<8 | int(hdr[2])<<16
	if n > maxGuardPacket {
		return dbengine.Fail(name, "the server's greeting is not MySQL's", "check that "+addr+" is a MySQL or MariaDB server")
	}
	greet := make([]byte, n)
	if _, err := io.ReadFull(conn, greet); err != nil || n == 0 {
		return dbengine.Fail(name, "the server's greeting is truncated", "check that "+addr+" is a MySQL or MariaDB server")
	}
	g := &guardConn{policy: e.policy(t)}
	if greet[0] == pktErr {
		return dbengine.Fail(name, "the server refused the connection: "+strings.TrimSpace(string(greet[min(len(greet), 9):])), "check the server's state (too many connections, host blocked)")
	}
	if err := g.greeting(greet); err != nil {
		if errors.Is(err, ErrServerNoTLS) {
			return dbengine.Fail(name, "the server does not support TLS, and "+t.tls.Source+" requires it", "turn TLS on in the server, or set \"sslmode\" to \"prefer\" or \"disable\" if plaintext is acceptable on this network")
		}
		return dbengine.Fail(name, err.Error(), "check that "+addr+" is a MySQL or MariaDB server")
	}
	server := parseServerVersion(g.version)
	if !g.useTLS {
		return dbengine.Pass(name, server.String()+" offers no TLS; sslmode prefer falls back to plaintext (password challenges only)")
	}
	// SSLRequest: capabilities (protocol 4.1, secure connection, SSL), max
	// packet size, utf8mb4, 23 bytes of filler.
	req := make([]byte, 4+32)
	req[0], req[3] = 32, hdr[3]+1
	binary.LittleEndian.PutUint32(req[4:], 0x00000200|0x00008000|capSSL|0x00080000)
	binary.LittleEndian.PutUint32(req[8:], 1<<24)
	req[12] = 45
	if _, err := conn.Write(req); err != nil {
		return dbengine.Fail(name, "cannot ask for TLS: "+err.Error(), "")
	}
	tc := tls.Client(conn, t.tls.ClientConfig(t.host))
	if err := tc.HandshakeContext(ctx); err != nil {
		return e.pfTLSFailure(name, t, err)
	}
	detail := server.String() + ", " + t.tls.Describe(tc.ConnectionState(), time.Now())
	if !t.tls.Verified() {
		detail += ": password challenges only, no full authentication"
	}
	return dbengine.Pass(name, detail)
}

func (e *Engine) pfTLSFailure(name string, t *target, err error) rotator.Check {
	reason, fix := e.cfg.TLS.Diagnose(t.tls, t.host, err, "check the server's TLS configuration (tls_version, ssl_cert, ssl_key)")
	return dbengine.Fail(name, reason, fix)
}

// PreflightOwnPassword checks what a single-user rotation needs once the
// secret logs in (single.OwnPasswordPreflighter): the account it changes
// and that its authentication plugin is one whose hash the engine
// computes.
func (e *Engine) PreflightOwnPassword(ctx context.Context, s *rotator.Secret) rotator.Check {
	const name = "password change"
	t, err := e.parse(s)
	if err != nil {
		return dbengine.Skip(name, "the secret's fields are invalid")
	}
	sess, err := e.connect(ctx, "preflight", t)
	if err != nil {
		return dbengine.Skip(name, "the user cannot log in")
	}
	defer sess.close()
	host, err := e.selfAccount(ctx, sess, "preflight", t)
	if err != nil {
		return dbengine.Fail(name, err.Error(), "")
	}
	more := "the account may always set its own password (SET PASSWORD on itself)"
	if !sess.server.mariaDB {
		more = "the account sets its own password by hash (ALTER USER ... AS), or by value with REPLACE when the server refuses the hash to an account without CREATE USER"
	}
	return e.pfPlugin(ctx, sess, t, name, account(t.username, host), more)
}

// pfPlugin checks that an account's plugin is one the engine hashes for.
func (e *Engine) pfPlugin(ctx context.Context, sess *session, t *target, name, acct, more string) rotator.Check {
	create, err := showCreateUser(ctx, sess.conn, acct)
	if err != nil {
		return dbengine.Fail(name, e.statementError("preflight", t, "SHOW CREATE USER "+acct, err).Error(), "the master needs SELECT on the mysql schema (or CREATE USER) to read accounts")
	}
	plugin, err := pluginOf(sess.server, create)
	if err == nil {
		_, err = authString(sess.server, plugin, "x")
	}
	if err != nil {
		return dbengine.Fail(name, acct+": "+err.Error(), "give the account mysql_native_password, caching_sha2_password (MySQL) or ed25519 (MariaDB): ALTER USER ... IDENTIFIED WITH/VIA ...")
	}
	detail := fmt.Sprintf("%s uses %s: the new password goes to the server as its hash", acct, plugin)
	if more != "" {
		detail += "; " + more
	}
	return dbengine.Pass(name, detail)
}

// PreflightMaster (alternating.MasterPreflighter) logs in with the master
// secret and checks the privileges an alternating-users rotation needs: reading accounts (SELECT on the
// mysql schema), CREATE USER, GRANT OPTION for the privileges it copies,
// roles (the clone marker), and that each user's account is found, on one
// host, with a plugin the engine hashes for.
func (e *Engine) PreflightMaster(ctx context.Context, req rotator.PreflightMasterRequest) []rotator.Check {
	t, err := e.parse(req.Master)
	if err != nil {
		return []rotator.Check{dbengine.Skip("master privileges", "the master secret's fields are invalid")}
	}
	userHost, err := e.userHostOf(req.Account, "")
	if err != nil {
		return []rotator.Check{dbengine.Fail("master privileges", err.Error(), "correct \"userhost\" in the secret")}
	}
	sess, err := e.connect(ctx, "preflight", t)
	if err != nil {
		return []rotator.Check{dbengine.Skip("master privileges", "the master cannot log in")}
	}
	defer sess.close()
	var cu string
	if err := sess.conn.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&cu); err != nil {
		return []rotator.Check{dbengine.Fail("master privileges", e.statementError("preflight", t, "CURRENT_USER()", err).Error(), "")}
	}
	mu, mh := splitAccount(cu)
	macct := account(mu, mh)
	lines, err := showGrants(ctx, sess.conn, macct)
	if err != nil {
		return []rotator.Check{dbengine.Fail("master privileges", e.statementError("preflight", t, "SHOW GRANTS", err).Error(), "")}
	}
	g, err := parseGrants(lines)
	if err != nil {
		return []rotator.Check{dbengine.Fail("master privileges", err.Error(), "")}
	}
	has := func(p string) bool {
		return g.atoms[privAtom{object: "*.*", priv: p}] || g.atoms[privAtom{object: "*.*", priv: "ALL PRIVILEGES"}]
	}
	var out []rotator.Check
	if has("CREATE USER") {
		out = append(out, dbengine.Pass("master CREATE USER", macct+" has CREATE USER"))
	} else {
		out = append(out, dbengine.Fail("master CREATE USER", macct+" lacks CREATE USER: it cannot create the clone or change other accounts' passwords", "GRANT CREATE USER ON *.* TO "+macct))
	}
	if g.grantOption["*.*"] {
		out = append(out, dbengine.Pass("master GRANT OPTION", macct+" has GRANT OPTION on *.*: it can give the clone its base's privileges"))
	} else {
		out = append(out, dbengine.Fail("master GRANT OPTION", macct+" lacks GRANT OPTION on *.*: it cannot copy privileges to the clone", "grant the master its privileges WITH GRANT OPTION"))
	}
	if req.Template != "" && !sess.server.roles() {
		out = append(out, dbengine.Fail("server roles", sess.server.String()+" has no roles, which mark the clones", "use a pre-created pair (\"alternateusername\" and \"alternatingpairs\")"))
	}
	for _, u := range req.Users {
		host, exists, err := e.resolveHost(ctx, sess, "preflight", t, u, userHost)
		name := "user " + u
		switch {
		case err != nil:
			fix := "set \"userhost\" in the secret to the host part of the accounts that rotate"
			if !errors.Is(err, ErrAccountHost) {
				fix = "the master needs SELECT on the mysql schema to find accounts"
			}
			out = append(out, dbengine.Fail(name, err.Error(), fix))
		case !exists && u == req.Clone:
			out = append(out, dbengine.Pass(name, quoteIdent(u)+" does not exist yet: the first rotation creates it as a clone of "+quoteIdent(req.Template)+" on the base's host"))
		case !exists:
			out = append(out, dbengine.Fail(name, "no account "+accountOrName(u, host), "create it: CREATE USER "+accountOrName(u, host)+" ..."))
		default:
			out = append(out, e.pfPlugin(ctx, sess, t, name, account(u, host), ""))
		}
	}
	return out
}

// PreflightDualPassword checks that the server keeps dual passwords (MySQL
// 8.0.14 or later) and that the secret's account may retain and discard
// its own secondary password (APPLICATION_PASSWORD_ADMIN, or CREATE USER).
func (e *Engine) PreflightDualPassword(ctx context.Context, s *rotator.Secret) []rotator.Check {
	const name = "dual password"
	t, err := e.parse(s)
	if err != nil {
		return []rotator.Check{dbengine.Skip(name, "the secret's fields are invalid")}
	}
	sess, err := e.connect(ctx, "preflight", t)
	if err != nil {
		return []rotator.Check{dbengine.Skip(name, "the user cannot log in")}
	}
	defer sess.close()
	if !sess.server.dualPassword() {
		return []rotator.Check{dbengine.Fail(name, e.dualUnsupported("preflight", t, sess.server).Error(),
			"use the single-user or the alternating-users rotation for this server, or move to MySQL 8.0.14 or later")}
	}
	host, err := e.selfAccount(ctx, sess, "preflight", t)
	if err != nil {
		return []rotator.Check{dbengine.Fail(name, err.Error(), "")}
	}
	acct := account(t.username, host)
	lines, err := showGrants(ctx, sess.conn, acct)
	if err != nil {
		return []rotator.Check{dbengine.Fail(name, e.statementError("preflight", t, "SHOW GRANTS", err).Error(), "")}
	}
	g, err := parseGrants(lines)
	if err != nil {
		return []rotator.Check{dbengine.Fail(name, err.Error(), "")}
	}
	for _, p := range []string{"APPLICATION_PASSWORD_ADMIN", "CREATE USER", "ALL PRIVILEGES"} {
		if g.atoms[privAtom{object: "*.*", priv: p}] {
			return []rotator.Check{dbengine.Pass(name, fmt.Sprintf("%s keeps dual passwords and %s has %s", sess.server, acct, p))}
		}
	}
	return []rotator.Check{dbengine.Fail(name, fmt.Sprintf("%s lacks APPLICATION_PASSWORD_ADMIN: it may not keep a secondary password for itself", acct),
		"GRANT APPLICATION_PASSWORD_ADMIN ON *.* TO "+acct)}
}
