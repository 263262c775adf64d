package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5/pgconn"
	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/rotatorkit/rotator/internal/pgserver"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

func (c *cli) demo(ctx context.Context, args []string) int {
	fs := c.flags("demo")
	keep := fs.Bool("keep", false, "after the demo, keep its PostgreSQL and a Secrets Manager holding its secrets running until Ctrl-C, for rotator preflight and rotate (README: Quick start)")
	port := fs.Int("port", DefaultLocalPort, "with --keep: the TCP port of the Secrets Manager on 127.0.0.1 (0: any free port)")
	verbose := fs.Bool("v", false, "print every step of every rotation, with its metrics")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	if *port < 0 || *port > 65535 {
		c.errorf("demo: --port %d is not a TCP port", *port)
		return exitUsage
	}
	d := &demo{c: c, out: c.stdout, verbose: *verbose, keep: *keep, port: *port}
	if err := d.run(ctx); err != nil {
		c.errorf("demo: %v", err)
		return exitFailed
	}
	return exitOK
}

// demo starts a throwaway PostgreSQL (with TLS) and an in-process Secrets
// Manager, then rotates a single user and, twice, a pair of alternating
// users, through the same code as `rotator rotate` and the built-in
// handlers. Logins made here, independently of the engine, prove the
// result. With keep, both stay up afterwards, the Secrets Manager on a
// known port, so that the README's next commands (rotator preflight and
// rotate) have a database and secrets to work on without an AWS account
// or a database of the user's own.
type demo struct {
	c       *cli
	out     io.Writer
	verbose bool
	keep    bool
	port    int

	pg     *pgserver.Server
	sm     *secretsmanager.Client
	smURL  string
	failed bool
}

func (d *demo) run(ctx context.Context) error {
	fmt.Fprintln(d.out, "Rotator demo: a throwaway PostgreSQL, a local Secrets Manager, the real rotation handlers.")
	// testcontainers prints a banner on its first call to a Docker engine;
	// the demo's output is its own.
	tclog.SetDefault(tclog.NewNoopLogger())
	// The kept Secrets Manager listens first: a port already taken fails
	// the demo before it spends seconds starting PostgreSQL.
	var kept *localServer
	if d.keep {
		var err error
		if kept, err = serveLocal("127.0.0.1", d.port); err != nil {
			return fmt.Errorf("--keep: %w", err)
		}
		defer kept.close(ctx)
		d.sm, d.smURL = kept.client, kept.url
	} else {
		srv := rotatortest.NewServer()
		defer srv.Close()
		d.sm, d.smURL = srv.Client(), srv.URL()
	}
	startCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	pg, err := pgserver.Start(startCtx, pgserver.Options{TLSHosts: []string{"127.0.0.1", "localhost"}})
	cancel()
	if errors.Is(err, pgserver.ErrUnavailable) {
		return fmt.Errorf("%v\nInstall PostgreSQL (initdb and postgres; e.g. apt-get install postgresql, brew install postgresql@16), or start a Docker engine", err)
	}
	if err != nil {
		return err
	}
	defer pg.Stop()
	d.pg = pg
	if pg.FellBack != "" {
		// An engine answered but gave no server (an image that cannot be
		// pulled offline): say why the demo runs on local binaries.
		d.c.errorf("demo: %s; using the local binaries", pg.FellBack)
	}
	how := "local binaries"
	if pg.Mode == pgserver.ModeContainer {
		how = "container " + pg.Image
	}
	version, _, _ := strings.Cut(pg.Version, " ")
	fmt.Fprintf(d.out, "  PostgreSQL %s (%s) on %s:%d, TLS with a CA made for it\n", version, how, pg.Host, pg.Port)

	fmt.Fprintf(d.out, "  Secrets Manager (rotatortest) on %s\n\n", d.smURL)

	// The users: one that rotates its own password, one whose rotations
	// alternate with a clone, and the master that makes the clone.
	singlePW, appPW, adminPW := demoPassword(), demoPassword(), demoPassword()
	for _, r := range []struct {
		name, pw string
		attrs    []string
	}{
		{"demo_single", singlePW, nil},
		{"demo_app", appPW, nil},
		{"demo_admin", adminPW, []string{"CREATEROLE"}},
	} {
		if err := pg.CreateRole(ctx, r.name, r.pw, r.attrs...); err != nil {
			return err
		}
	}
	if pg.VersionNum >= 160000 {
		// PostgreSQL 16+: CREATEROLE changes only the roles it holds ADMIN
		// OPTION on (RDS's master gets it on the users it creates).
		if err := pg.Exec(ctx, "GRANT demo_app TO demo_admin WITH ADMIN OPTION"); err != nil {
			return err
		}
	}
	singleARN, err := d.createSecret(ctx, "demo/single-user", "demo_single", singlePW, "")
	if err != nil {
		return err
	}
	masterARN, err := d.createSecret(ctx, "demo/master", "demo_admin", adminPW, "")
	if err != nil {
		return err
	}
	altARN, err := d.createSecret(ctx, "demo/alternating-users", "demo_app", appPW, masterARN)
	if err != nil {
		return err
	}

	// Single user: the user changes its own password.
	res, err := d.rotate(ctx, "postgres-single-user", singleARN)
	if err != nil {
		return err
	}
	newPW, err := d.currentPassword(ctx, singleARN, "demo_single")
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "single-user        demo_single rotated in %s: old password rejected %s, new password accepted %s\n",
		ms(res.Duration), d.rejected(ctx, "demo_single", singlePW), d.accepted(ctx, "demo_single", newPW))

	// Alternating users, first rotation: the clone is made and current;
	// the old user keeps working as AWSPREVIOUS.
	existed, err := pg.RoleExists(ctx, "demo_app_clone")
	if err != nil {
		return err
	}
	if res, err = d.rotate(ctx, "postgres-alternating-users", altARN); err != nil {
		return err
	}
	clonePW, err := d.currentPassword(ctx, altARN, "demo_app_clone")
	if err != nil {
		return err
	}
	made := ""
	if !existed {
		if ok, _ := pg.RoleExists(ctx, "demo_app_clone"); ok {
			made = " (created)"
		}
	}
	fmt.Fprintf(d.out, "alternating-users  demo_app -> demo_app_clone%s in %s: new password accepted %s, demo_app still logs in %s\n",
		made, ms(res.Duration), d.accepted(ctx, "demo_app_clone", clonePW), d.accepted(ctx, "demo_app", appPW))

	// Second rotation: back to the first user, with a new password; the
	// clone keeps working until the next rotation.
	if res, err = d.rotate(ctx, "postgres-alternating-users", altARN); err != nil {
		return err
	}
	appNewPW, err := d.currentPassword(ctx, altARN, "demo_app")
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "alternating-users  demo_app_clone -> demo_app in %s: old password rejected %s, new password accepted %s, demo_app_clone still logs in %s\n",
		ms(res.Duration), d.rejected(ctx, "demo_app", appPW), d.accepted(ctx, "demo_app", appNewPW), d.accepted(ctx, "demo_app_clone", clonePW))

	if d.failed {
		return errors.New("a login check failed (marked ✗ above)")
	}
	if !d.keep {
		fmt.Fprintln(d.out, "\nDemo passed. Next: rotator demo --keep leaves all this running for rotator preflight and rotate (README: Quick start).")
		return nil
	}
	out := &lockedWriter{w: d.out}
	d.c.registerFunctions(ctx, kept.srv, kept.client, out)
	fmt.Fprintf(out, `
Demo passed. Kept running until Ctrl-C, which removes both:
  PostgreSQL %s on %s:%d (the demo's users: demo_single, demo_app, demo_app_clone, demo_admin)
  Secrets Manager on %s, with the secrets
    demo/single-user        for postgres-single-user
    demo/alternating-users  for postgres-alternating-users (its master: demo/master)
  and the built-in rotation functions, as arn:aws:lambda:%s:%s:function:NAME

`, version, pg.Host, pg.Port, d.smURL, rotatortest.Region, rotatortest.AccountID)
	printClientSetup(out, d.smURL, "demo/single-user")
	printTryIt(out, d.smURL, "demo/single-user", "postgres-single-user")
	fmt.Fprintln(out, "State lives in memory and is gone when this stops. Ctrl-C stops it.")
	if err := kept.wait(ctx); err != nil {
		return err
	}
	fmt.Fprintln(out, "stopping: PostgreSQL and its data are removed")
	return nil
}

// createSecret stores an RDS-style secret through the API.
func (d *demo) createSecret(ctx context.Context, name, user, pw, masterARN string) (string, error) {
	v := map[string]any{
		"engine":      "postgres",
		"host":        d.pg.Host,
		"port":        d.pg.Port,
		"dbname":      d.pg.Database,
		"username":    user,
		"password":    pw,
		"ssl":         true,
		"sslrootcert": string(d.pg.CAPEM),
	}
	if masterARN != "" {
		v["masterarn"] = masterARN
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	out, err := d.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(string(b))})
	if err != nil {
		return "", fmt.Errorf("create secret %s: %w", name, err)
	}
	return aws.ToString(out.ARN), nil
}

// rotate runs one rotation the way `rotator rotate` does.
func (d *demo) rotate(ctx context.Context, function, arn string) (*rotationResult, error) {
	fn := mustFunction(function)
	strategy, err := fn.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", function, err)
	}
	rot := &rotation{
		sm:       d.sm,
		function: fn.Name,
		strategy: strategy,
		secretID: arn,
		getenv:   d.c.getenv,
		logger:   slog.New(slog.DiscardHandler),
	}
	if d.verbose {
		fmt.Fprintln(d.out)
		rot.progress = d.out
	}
	res, err := rot.run(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", function, err)
	}
	if d.verbose {
		res.printMetrics(d.out)
		fmt.Fprintln(d.out)
	}
	if res.Failed != nil {
		return nil, fmt.Errorf("%s: rotation failed at %s: %v", function, res.Failed.Step, res.Failed.Err)
	}
	if !res.Promoted {
		return nil, fmt.Errorf("%s: AWSCURRENT did not move", function)
	}
	return res, nil
}

// currentPassword reads AWSCURRENT and checks it names user.
func (d *demo) currentPassword(ctx context.Context, arn, user string) (string, error) {
	out, err := d.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", err
	}
	s, err := rotator.ParseSecret(aws.ToString(out.SecretString))
	if err != nil {
		return "", err
	}
	if s.Username() != user {
		return "", fmt.Errorf("AWSCURRENT names user %q, want %q", s.Username(), user)
	}
	return s.Password(), nil
}

func (d *demo) accepted(ctx context.Context, user, pw string) string {
	if err := d.pg.CanLogin(ctx, user, pw); err != nil {
		d.failed = true
		return "✗"
	}
	return "✓"
}

// rejected checks that the server refuses the password itself (SQLSTATE
// 28P01), not that the login failed for any other reason.
func (d *demo) rejected(ctx context.Context, user, pw string) string {
	var pe *pgconn.PgError
	if err := d.pg.CanLogin(ctx, user, pw); !errors.As(err, &pe) || pe.Code != "28P01" {
		d.failed = true
		return "✗"
	}
	return "✓"
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%d ms", d.Milliseconds())
}

// demoPassword returns a random 24-character password of letters and
// digits.
func demoPassword() string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
