package postgres

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

// Preflight checks: what `rotator preflight` reports about a PostgreSQL
// secret before any rotation. They read the secret and the server's
// catalog and change nothing. Their texts never hold a password.

// PreflightStatus is the result of one check (rotator's type: strategies
// put the engine's checks in their reports as they are).
type PreflightStatus = rotator.CheckStatus

// The results of a check.
const (
	PreflightPass = rotator.CheckPass
	PreflightFail = rotator.CheckFail
	// PreflightSkip: the check does not apply, or cannot run because an
	// earlier one failed.
	PreflightSkip = rotator.CheckSkip
	// PreflightWarn: a rotation would work, and achieve nothing: the
	// server let in a credential it should have rejected (a random wrong
	// password), so it checks no password for this user and a rotation's
	// testSecret proves nothing. `rotator preflight` exits 1 on it, as on
	// a failure.
	PreflightWarn = rotator.CheckWarn
)

// PreflightCheck is one line of a preflight report.
type PreflightCheck = rotator.Check

// PreflightConnection checks a secret the way a rotation will use it: its
// fields one by one, then DNS resolution of the host, a TCP connection, the
// TLS handshake and certificate (when the secret asks for TLS) and a login
// with its credentials. After a login, it tries once more with a random
// wrong password, and adds a WARN "password check" when that logs in too.
// who prefixes the check names ("master" for a master secret; "" for the
// secret being rotated). A check that cannot run because an earlier one
// failed is SKIP.
func (e *Engine) PreflightConnection(ctx context.Context, s *rotator.Secret, who string) []PreflightCheck {
	name := dbengine.CheckNamer(who).Name
	var out []PreflightCheck
	if e.cfg.Err != nil {
		out = append(out, dbengine.Fail(name("engine configuration"), e.cfg.Err.Error(),
			"correct $"+EnvCABundle+" / $"+EnvSSLMode+" / $"+EnvAllowMD5+" / $"+EnvAllowCleartext+" (or the engine's options)"))
		return out
	}

	fieldChecks, host, port := e.preflightFields(s, name)
	out = append(out, fieldChecks...)
	t, parseErr := e.parse(s)

	// DNS.
	dnsName := name("DNS resolve")
	var addrs []string
	switch {
	case host == "":
		out = append(out, dbengine.Skip(dnsName, "no valid \"host\""))
	case net.ParseIP(host) != nil:
		addrs = []string{host}
		out = append(out, dbengine.Pass(dnsName, host+" is an IP address: nothing to resolve"))
	default:
		rctx, cancel := context.WithTimeout(ctx, e.cfg.ConnectTimeout)
		ips, err := net.DefaultResolver.LookupHost(rctx, host)
		cancel()
		if err != nil {
			out = append(out, dbengine.Fail(dnsName, "cannot resolve "+strconv.Quote(host)+": "+pfDNSReason(err),
				"check \"host\" (the server's DNS name, e.g. the RDS endpoint); a Lambda function in a VPC resolves through the VPC's DNS (enableDnsSupport; private hosted zones must be associated with the VPC)"))
		} else {
			addrs = ips
			out = append(out, dbengine.Pass(dnsName, host+" resolves to "+strings.Join(pfLimit(ips, 3), ", ")))
		}
	}

	// TCP.
	tcpName := name("TCP connect")
	tcpOK := false
	switch {
	case len(addrs) == 0 || port == 0:
		out = append(out, dbengine.Skip(tcpName, "no address to connect to"))
	default:
		addr := net.JoinHostPort(host, strconv.Itoa(port))
		start := time.Now()
		d := net.Dialer{Timeout: e.cfg.ConnectTimeout}
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			out = append(out, pfTCPFailure(tcpName, addr, err, e.cfg.ConnectTimeout))
		} else {
			tcpOK = true
			out = append(out, dbengine.Pass(tcpName, fmt.Sprintf("connected to %s in %s", conn.RemoteAddr(), pfRound(time.Since(start)))))
			_ = conn.Close()
		}
	}

	// TLS.
	tlsName := name("TLS handshake")
	tlsOK := true
	switch {
	case parseErr != nil:
		out = append(out, dbengine.Skip(tlsName, "the secret's fields are invalid"))
		tlsOK = false
	case t.tls.Mode == SSLDisable:
		out = append(out, dbengine.Skip(tlsName, "the secret asks for no TLS ("+t.tls.Source+")"))
	case !tcpOK:
		out = append(out, dbengine.Skip(tlsName, "no TCP connection"))
		tlsOK = false
	default:
		c := e.preflightTLS(ctx, t, tlsName)
		tlsOK = c.Status != PreflightFail
		out = append(out, c)
	}

	// Login.
	loginName := dbengine.CheckNamer(who).Login()
	switch {
	case parseErr != nil:
		out = append(out, dbengine.Skip(loginName, "the secret's fields are invalid"))
	case !tcpOK || !tlsOK:
		out = append(out, dbengine.Skip(loginName, "the server cannot be reached as the secret says"))
	default:
		login := e.preflightLogin(ctx, t, loginName)
		out = append(out, login)
		if login.Status == PreflightPass {
			if warn, ok := e.preflightWrongPassword(ctx, t, name("password check")); ok {
				out = append(out, warn)
			}
		}
	}
	return out
}

// preflightWrongPassword logs in as the same user with a random password
// that cannot be the user's. A server that lets that in checks no password
// for this user from here (trust, or another pg_hba.conf method that asks
// for none): the login that passed proves nothing, rotating the password
// protects nothing, and a rotation's testSecret would pass whatever the
// new password. It returns the WARN check, and false when the server
// refused the wrong password (or could not be asked: nothing to report).
// The server logs one failed login.
func (e *Engine) preflightWrongPassword(ctx context.Context, t *target, name string) (PreflightCheck, bool) {
	wrong := *t
	wrong.password = "rotator-preflight-wrong-" + rand.Text()
	conn, err := e.connect(ctx, "login", &wrong)
	if err != nil {
		return PreflightCheck{}, false
	}
	closeConn(conn)
	return PreflightCheck{
		Name:   name,
		Status: PreflightWarn,
		Detail: fmt.Sprintf("the server let %s in with a random wrong password: it checks no password for this user from here (trust, or another pg_hba.conf method that asks for none), so the login above proves nothing, rotating the password protects nothing, and a rotation's test of the new password would pass whatever it is", quote(t.username)),
		Fix:    "make pg_hba.conf ask for scram-sha-256 on the connections this user makes (no trust line before it matching them), then reload the server (SELECT pg_reload_conf())",
	}, true
}

// preflightFields checks each field on its own, so that every bad field is
// named at once. It returns the host and port when they are valid.
func (e *Engine) preflightFields(s *rotator.Secret, name func(string) string) (out []PreflightCheck, host string, port int) {
	if s == nil {
		return []PreflightCheck{dbengine.Fail(name("fields"), "no secret", "")}, "", 0
	}
	bad := func(field string, err error) {
		out = append(out, dbengine.Fail(name("field "+field), err.Error(), pfFieldFix(field, err)))
	}
	engineName := "postgres (assumed: no \"engine\" field)"
	if raw, ok := s.Raw(rotator.FieldEngine); ok && strings.TrimSpace(string(raw)) != "null" {
		v, ok := s.String(rotator.FieldEngine)
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "postgres", "postgresql", "aurora-postgresql":
			engineName = v
		default:
			if !ok {
				bad(rotator.FieldEngine, &rotator.FieldError{Field: rotator.FieldEngine, Reason: "must be a JSON string", Err: rotator.ErrInvalidField})
			} else {
				bad(rotator.FieldEngine, fmt.Errorf("%w: engine %s is not PostgreSQL (this rotator serves postgres, postgresql and aurora-postgresql)", rotator.ErrWrongEngine, rotator.Quote(v)))
			}
		}
	}
	if h, err := s.Require(rotator.FieldHost); err != nil {
		bad(rotator.FieldHost, err)
	} else if strings.HasPrefix(h, "/") || strings.ContainsAny(h, ", \t\r\n") {
		bad(rotator.FieldHost, &rotator.FieldError{Field: rotator.FieldHost, Reason: "must be one host name or IP address", Err: rotator.ErrInvalidField})
	} else {
		host = h
	}
	if p, err := s.Int(rotator.FieldPort, 5432); err != nil {
		bad(rotator.FieldPort, err)
	} else if p < 1 || p > 65535 {
		bad(rotator.FieldPort, &rotator.FieldError{Field: rotator.FieldPort, Reason: "must be between 1 and 65535", Err: rotator.ErrInvalidField})
	} else {
		port = p
	}
	user, err := s.Require(rotator.FieldUsername)
	if err == nil {
		err = checkRoleName(rotator.FieldUsername, user)
	}
	if err != nil {
		bad(rotator.FieldUsername, err)
	}
	if _, err := s.Require(rotator.FieldPassword); err != nil {
		bad(rotator.FieldPassword, err)
	}
	db := "postgres"
	if raw, ok := s.Raw(rotator.FieldDBName); ok && strings.TrimSpace(string(raw)) != "null" {
		v, ok := s.String(rotator.FieldDBName)
		switch {
		case !ok:
			bad(rotator.FieldDBName, &rotator.FieldError{Field: rotator.FieldDBName, Reason: "must be a JSON string", Err: rotator.ErrInvalidField})
		case strings.IndexByte(v, 0) >= 0:
			bad(rotator.FieldDBName, &rotator.FieldError{Field: rotator.FieldDBName, Reason: "holds a NUL character", Err: rotator.ErrInvalidField})
		case v != "":
			db = v
		}
	}
	plan, tlsErr := e.cfg.TLS.Plan(s)
	if tlsErr != nil {
		field := "TLS settings"
		var fe *rotator.FieldError
		if errors.As(tlsErr, &fe) {
			field = fe.Field
		}
		bad(field, tlsErr)
	}
	if len(out) > 0 {
		return out, host, port
	}
	detail := fmt.Sprintf("engine %s, host %s, port %d, dbname %s, username %s, password set, sslmode %s",
		engineName, host, port, db, strconv.Quote(user), plan.Mode)
	return []PreflightCheck{dbengine.Pass(name("secret fields"), detail)}, host, port
}

func pfFieldFix(field string, err error) string {
	switch {
	case errors.Is(err, rotator.ErrWrongEngine):
		return "this function rotates PostgreSQL: use the rotator for the secret's engine, or correct \"engine\" (postgres, postgresql or aurora-postgresql)"
	case field == rotator.FieldHost && errors.Is(err, rotator.ErrMissingField):
		return "add \"host\": the server's DNS name or IP address (for RDS, the instance or cluster endpoint)"
	case field == rotator.FieldHost:
		return "\"host\" must name one server: a DNS name or an IP address (no list, no socket path)"
	case field == rotator.FieldPort:
		return "set \"port\" to the server's TCP port, 1 to 65535 (PostgreSQL's default is 5432), as a number or a numeric string"
	case field == rotator.FieldUsername && errors.Is(err, rotator.ErrMissingField):
		return "add \"username\": the database user whose password rotates"
	case field == rotator.FieldUsername:
		return "\"username\" must be an existing PostgreSQL role name (at most 63 bytes)"
	case field == rotator.FieldPassword:
		return "add \"password\": the user's current password (each rotation first logs in with it)"
	case field == rotator.FieldDBName:
		return "set \"dbname\" to a database the user may connect to, or remove it (default postgres)"
	case field == FieldSSL || field == FieldSSLMode:
		return "use \"ssl\": true/false or \"sslmode\": disable, prefer, require, verify-ca or verify-full; when both are present they must agree"
	case field == FieldSSLRootCert:
		return "put the PEM text of the CA certificates in \"sslrootcert\" (or \"system\"); for a file, use $" + EnvCABundle
	}
	return "correct the field in the secret"
}

func pfDNSReason(err error) string {
	var de *net.DNSError
	if errors.As(err, &de) {
		switch {
		case de.IsNotFound:
			return "no such host"
		case de.IsTimeout:
			return "the DNS server did not answer in time"
		}
		return de.Err
	}
	return err.Error()
}

func pfTCPFailure(name, addr string, err error, timeout time.Duration) PreflightCheck {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return dbengine.Fail(name, "connection to "+addr+" refused: nothing listens there",
			"check \"port\", and that the server runs and listens on that address (listen_addresses)")
	case isTimeout(err) || errors.Is(err, context.DeadlineExceeded):
		return dbengine.Fail(name, fmt.Sprintf("no answer from %s within %v: packets are dropped", addr, timeout),
			"allow inbound TCP to the database port from where the rotation runs (security group, network ACL); a Lambda function must run in subnets that route to the database")
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		return dbengine.Fail(name, "no route to "+addr,
			"the database is not reachable from this network: check the routes (VPC, peering, VPN) between the rotation and the database")
	}
	return dbengine.Fail(name, "cannot connect to "+addr+": "+err.Error(),
		"check \"host\" and \"port\", and the network between the rotation and the database")
}

// preflightTLS asks the server for TLS as libpq does (SSLRequest), then
// runs the handshake with the configuration a rotation would use.
func (e *Engine) preflightTLS(ctx context.Context, t *target, name string) PreflightCheck {
	cc, err := e.connConfig(t)
	if err != nil {
		return dbengine.Fail(name, err.Error(), "")
	}
	ctx, cancel := context.WithTimeout(ctx, e.cfg.ConnectTimeout)
	defer cancel()
	d := net.Dialer{}
	addr := net.JoinHostPort(t.host, strconv.Itoa(t.port))
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return pfTCPFailure(name, addr, err, e.cfg.ConnectTimeout)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// SSLRequest: length 8, code 80877103.
	var req [8]byte
	binary.BigEndian.PutUint32(req[0:4], 8)
	binary.BigEndian.PutUint32(req[4:8], 80877103)
	var answer [1]byte
	if _, err := conn.Write(req[:]); err == nil {
		_, err = io.ReadFull(conn, answer[:])
	}
	if err != nil {
		return dbengine.Fail(name, "the server did not answer the TLS request: "+err.Error(),
			"check that "+addr+" is a PostgreSQL server")
	}
	switch answer[0] {
	case 'N':
		if t.tls.Mode == SSLPrefer {
			return dbengine.Pass(name, "the server offers no TLS; sslmode prefer falls back to plaintext (passwords travel as SCRAM exchanges, queries in the clear)")
		}
		return dbengine.Fail(name, "the server does not support TLS, and "+t.tls.Source+" requires it",
			"turn TLS on in the server (ssl = on), or set \"sslmode\" to \"prefer\" or \"disable\" if plaintext is acceptable on this network")
	case 'S':
	default:
		return dbengine.Fail(name, fmt.Sprintf("unexpected answer %q to the TLS request", answer[0]),
			"check that "+addr+" is a PostgreSQL server")
	}
	tc := tls.Client(conn, cc.TLSConfig)
	if err := tc.HandshakeContext(ctx); err != nil {
		return e.pfTLSFailure(name, t, err)
	}
	return dbengine.Pass(name, t.tls.Describe(tc.ConnectionState(), time.Now()))
}

func (e *Engine) pfTLSFailure(name string, t *target, err error) PreflightCheck {
	reason, fix := e.cfg.TLS.Diagnose(t.tls, t.host, err,
		"check the server's TLS configuration (ssl_min_protocol_version at most TLS 1.2 or 1.3; a certificate and key)")
	return dbengine.Fail(name, reason, fix)
}

// preflightLogin logs in and reads who the session belongs to.
func (e *Engine) preflightLogin(ctx context.Context, t *target, name string) PreflightCheck {
	conn, err := e.connect(ctx, "login", t)
	if err != nil {
		return pfLoginFailure(name, t, err)
	}
	defer closeConn(conn)
	var who, version string
	var isTLS bool
	if err := conn.QueryRow(ctx, "SELECT session_user, current_setting('server_version'), coalesce((SELECT ssl FROM pg_catalog.pg_stat_ssl WHERE pid = pg_catalog.pg_backend_pid()), false)").Scan(&who, &version, &isTLS); err != nil {
		return dbengine.Fail(name, e.statementError("login", t, "reading session_user", err, t.password).Error(), "")
	}
	if who != t.username {
		return dbengine.Fail(name, "logged in, but the session belongs to "+quote(who), "check the server's authentication mapping (pg_ident.conf)")
	}
	transport := "plaintext"
	if isTLS {
		transport = "TLS"
	}
	return dbengine.Pass(name, fmt.Sprintf("logged in as %s (PostgreSQL %s, %s)", quote(who), version, transport))
}

func pfLoginFailure(name string, t *target, err error) PreflightCheck {
	var pe *Error
	code := ""
	if errors.As(err, &pe) {
		code = pe.Code
	}
	fix := ""
	switch {
	case code == "28P01":
		fix = "the secret's password is not the user's current password (or the role does not exist): set the user's password to the secret's (ALTER ROLE ... PASSWORD, as an admin), or store the working password in the secret"
	case code == "28000" && roleMissing(pe):
		// The server says so only when it asked for no password (trust,
		// peer, cert): with password methods a missing role and a wrong
		// password look the same (28P01), so that no one can probe names.
		fix = "the role " + quote(t.username) + " does not exist on this server: create it (as an admin: CREATE ROLE " + quote(t.username) + " LOGIN PASSWORD '...', with the secret's password), or set \"username\" to a role that exists"
	case code == "28000":
		fix = "no pg_hba.conf entry lets " + strconv.Quote(t.username) + " connect from here with password authentication (or the role has NOLOGIN): add a host/hostssl line with scram-sha-256 or md5"
	case code == "3D000":
		fix = "set \"dbname\" to a database that exists (default postgres)"
	case errors.Is(err, rotator.ErrPermission):
		fix = "GRANT CONNECT ON DATABASE " + quote(t.dbname) + " TO " + quote(t.username)
	case errors.Is(err, ErrServerNoTLS):
		fix = "turn TLS on in the server, or set \"sslmode\" to \"prefer\" or \"disable\""
	case errors.Is(err, ErrCertificate):
		fix = "make the certificate verifiable: see the TLS check"
	case errors.Is(err, ErrAuthMethod):
		fix = "make pg_hba.conf ask for scram-sha-256 (with SCRAM verifiers stored), or verify the server's certificate (\"sslmode\": \"verify-full\" with its CA); an opt-in, where one exists, is named in the detail"
	case errors.Is(err, ErrChannelBinding):
		fix = "verify the server's certificate (\"sslmode\": \"verify-full\" with its CA in \"sslrootcert\" or $" + EnvCABundle + "): without it the engine requires SCRAM channel binding, which poolers such as PgBouncer do not offer"
	case errors.Is(err, rotator.ErrLoginFailed):
		fix = "check the user's password and the server's authentication rules (pg_hba.conf)"
	case errors.Is(err, rotator.ErrUnreachable):
		fix = "check the network path and the server's state"
	}
	return dbengine.Fail(name, err.Error(), fix)
}

// roleMissing reports whether a login was refused because the role does
// not exist (FATAL: role "x" does not exist).
func roleMissing(e *Error) bool {
	return strings.HasPrefix(e.Reason, "role ") && strings.HasSuffix(e.Reason, " does not exist")
}

// PreflightMasterRequest says what the master user of an alternating-users
// rotation must be allowed to do.
type PreflightMasterRequest = rotator.PreflightMasterRequest

// PreflightMaster logs in with the master secret and checks, in the
// catalog, the privileges an alternating-users rotation needs: CREATEROLE
// (or superuser), ADMIN OPTION on the users it manages on PostgreSQL 16 and
// later, the template's attributes it must copy, and that the users exist.
func (e *Engine) PreflightMaster(ctx context.Context, req PreflightMasterRequest) []PreflightCheck {
	t, err := e.parse(req.Master)
	if err != nil {
		return []PreflightCheck{dbengine.Skip("master privileges", "the master secret's fields are invalid")}
	}
	conn, err := e.connect(ctx, "preflight", t)
	if err != nil {
		return []PreflightCheck{dbengine.Skip("master privileges", "the master cannot log in")}
	}
	defer closeConn(conn)
	q := func(what string, err error) []PreflightCheck {
		return []PreflightCheck{dbengine.Fail("master privileges", e.statementError("preflight", t, what, err, t.password).Error(), "")}
	}
	var versionNum string
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')").Scan(&versionNum); err != nil {
		return q("reading server_version_num", err)
	}
	version, _ := strconv.Atoi(versionNum)
	master, ok, err := lookupRole(ctx, conn, t.username)
	if err != nil {
		return q("looking up the master role", err)
	}
	if !ok {
		return []PreflightCheck{dbengine.Fail("master privileges", "the master role is not in pg_roles", "")}
	}
	mq := quote(t.username)
	var out []PreflightCheck
	switch {
	case master.super:
		out = append(out, dbengine.Pass("master CREATEROLE", mq+" is a superuser"))
	case master.createRole:
		out = append(out, dbengine.Pass("master CREATEROLE", mq+" has CREATEROLE"))
	default:
		out = append(out, dbengine.Fail("master CREATEROLE", mq+" has neither CREATEROLE nor SUPERUSER: it cannot create the second user or change passwords",
			"as a superuser (RDS: the master user): ALTER ROLE "+mq+" CREATEROLE"))
	}

	users := req.Users
	if req.Template != "" && !pfContains(users, req.Template) {
		users = append([]string{req.Template}, users...)
	}
	for _, u := range users {
		uq := quote(u)
		info, exists, err := lookupRole(ctx, conn, u)
		if err != nil {
			return append(out, q("looking up "+uq, err)...)
		}
		if !exists {
			if u == req.Clone && req.Template != "" {
				out = append(out, dbengine.Pass("user "+u, uq+" does not exist yet: the first rotation creates it as a twin of "+quote(req.Template)))
				continue
			}
			fix := "create it: CREATE ROLE " + uq + " LOGIN"
			if req.Template == "" {
				fix += " (or remove \"alternateusername\" from the secret to let the rotation make a clone)"
			}
			out = append(out, dbengine.Fail("user "+u, uq+" does not exist", fix))
			continue
		}
		detail := uq + " exists"
		if u == req.Clone {
			detail += "; each rotation re-asserts it as a twin of " + quote(req.Template)
		}
		if !info.canLogin && u != req.Template {
			out = append(out, dbengine.Fail("user "+u, uq+" exists but cannot log in (NOLOGIN)", "ALTER ROLE "+uq+" LOGIN"))
			continue
		}
		out = append(out, dbengine.Pass("user "+u, detail))
		if master.super {
			continue
		}
		adminName := "master admin of " + u
		switch {
		case info.super:
			out = append(out, dbengine.Fail(adminName, uq+" is a superuser: only a superuser may change it", "use a superuser as the master, or rotate a non-superuser role"))
		case version >= 160000:
			var admin bool
			if err := conn.QueryRow(ctx, "SELECT pg_catalog.pg_has_role(session_user, $1::text, 'MEMBER WITH ADMIN OPTION')", u).Scan(&admin); err != nil {
				return append(out, q("checking ADMIN OPTION on "+uq, err)...)
			}
			if admin {
				out = append(out, dbengine.Pass(adminName, mq+" holds ADMIN OPTION on "+uq))
			} else {
				out = append(out, dbengine.Fail(adminName, mq+" lacks ADMIN OPTION on "+uq+" (PostgreSQL 16+ requires it to change the role or grant it)",
					"as a superuser: GRANT "+uq+" TO "+mq+" WITH ADMIN OPTION"))
			}
		case master.createRole:
			out = append(out, dbengine.Pass(adminName, "CREATEROLE may change "+uq+" (PostgreSQL before 16)"))
		}
		if u == req.Template && version >= 160000 {
			if info.createDB && !master.createDB {
				out = append(out, dbengine.Fail("master CREATEDB", quote(u)+" has CREATEDB, which the clone copies, and "+mq+" lacks it",
					"ALTER ROLE "+mq+" CREATEDB, or ALTER ROLE "+quote(u)+" NOCREATEDB"))
			}
		}
	}
	return out
}

func pfContains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func pfLimit(list []string, n int) []string {
	if len(list) <= n {
		return list
	}
	return append(append([]string{}, list[:n]...), fmt.Sprintf("and %d more", len(list)-n))
}

func pfRound(d time.Duration) time.Duration {
	switch {
	case d > time.Second:
		return d.Round(10 * time.Millisecond)
	case d > time.Millisecond:
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// PreflightOwnPassword: a PostgreSQL role may always change its own
// password, so there is nothing to ask the server.
func (e *Engine) PreflightOwnPassword(context.Context, *rotator.Secret) rotator.Check {
	return rotator.Check{Status: rotator.CheckPass, Detail: "a PostgreSQL role may always change its own password (ALTER ROLE ... PASSWORD)"}
}
