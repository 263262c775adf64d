package pgxrotate_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rotatorkit/rotator/client/pgxrotate"
	"github.com/rotatorkit/rotator/client/secretcache"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// conn is a client under test: query runs on a new connection each time
// (so that it meets the credential of the moment), stats are its counters.
type conn struct {
	query func(ctx context.Context) (string, error)
	stats func() pgxrotate.Stats
}

// clients opens each kind of client on a rig.
var clients = []struct {
	name string
	open func(t *testing.T, r *rig, opts ...pgxrotate.Option) conn
}{
	{"pgxpool", func(t *testing.T, r *rig, opts ...pgxrotate.Option) conn {
		t.Helper()
		cfg, err := pgxpool.ParseConfig(r.connString())
		if err != nil {
			t.Fatal(err)
		}
		pool, err := pgxrotate.NewPool(context.Background(), cfg, r.cache, r.arn, append([]pgxrotate.Option{pgxrotate.WithLogger(r.logs.Logger())}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		return conn{
			query: func(ctx context.Context) (string, error) {
				pool.Reset() // closes every connection: the query opens one
				var u string
				err := pool.QueryRow(ctx, "SELECT session_user").Scan(&u)
				return u, err
			},
			stats: pool.Credentials().Stats,
		}
	}},
	{"database/sql", func(t *testing.T, r *rig, opts ...pgxrotate.Option) conn {
		t.Helper()
		cfg, err := pgx.ParseConfig(r.connString())
		if err != nil {
			t.Fatal(err)
		}
		c, err := pgxrotate.NewConnector(cfg, r.cache, r.arn, append([]pgxrotate.Option{pgxrotate.WithLogger(r.logs.Logger())}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		db := sql.OpenDB(c)
		db.SetMaxIdleConns(0) // every query opens a connection
		t.Cleanup(func() { _ = db.Close() })
		return conn{
			query: func(ctx context.Context) (string, error) {
				var u string
				err := db.QueryRowContext(ctx, "SELECT session_user").Scan(&u)
				return u, err
			},
			stats: c.Credentials().Stats,
		}
	}},
}

func TestRefusedConnectionIsRetriedWithTheNewCredential(t *testing.T) {
	for _, cl := range clients {
		t.Run(cl.name, func(t *testing.T) {
			r := newRig(t, singleUser)
			c := cl.open(t, r)
			ctx := context.Background()
			if _, err := c.query(ctx); err != nil {
				t.Fatal(err)
			}
			r.rotate(1) // the cache (5-minute TTL) still holds the old password
			if _, err := c.query(ctx); err != nil {
				t.Fatalf("after a rotation: %v", err)
			}
			if s := c.stats(); s.AuthFailures != 1 || s.Retries != 1 || s.PendingUsed != 0 {
				t.Fatalf("stats %+v: want 1 refusal, 1 retry", s)
			}
			if n := r.cache.Stats().Fetches; n != 2 {
				t.Fatalf("%d GetSecretValue, want 2 (first read, re-fetch after the refusal)", n)
			}
		})
	}
}

// TestPendingFallbackBetweenSetSecretAndFinishSecret connects in the one
// moment of a single-user rotation when the server has the new password
// and AWSCURRENT still holds the old one.
func TestPendingFallbackBetweenSetSecretAndFinishSecret(t *testing.T) {
	tests := []struct {
		pending     bool
		wantErr     bool
		wantStats   pgxrotate.Stats
		description string
	}{
		{true, false, pgxrotate.Stats{AuthFailures: 1, Retries: 1, PendingUsed: 1}, "AWSPENDING's credential logs in"},
		{false, true, pgxrotate.Stats{AuthFailures: 2, Retries: 1}, "the old credential is refused twice, then the error"},
	}
	for _, cl := range clients {
		for _, tt := range tests {
			name := cl.name + "/pending fallback off"
			if tt.pending {
				name = cl.name + "/pending fallback on"
			}
			t.Run(name, func(t *testing.T) {
				r := newRig(t, singleUser)
				c := cl.open(t, r, pgxrotate.WithPendingFallback(tt.pending))
				ctx := context.Background()
				if _, err := c.query(ctx); err != nil {
					t.Fatal(err)
				}
				var got error
				inner := r.handle
				r.handle = func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
					err := inner(ctx, ev)
					if err == nil && ev.Step == rotatortest.StepSet {
						_, got = c.query(ctx)
					}
					return err
				}
				r.rotate(1)
				if (got != nil) != tt.wantErr {
					t.Fatalf("query between setSecret and finishSecret: %v, want error %v (%s)", got, tt.wantErr, tt.description)
				}
				if got != nil {
					if !pgxrotate.IsAuthFailure(got) {
						t.Fatalf("error %v is not an authentication failure", got)
					}
					r.noteErr(got)
				}
				if s := c.stats(); s != tt.wantStats {
					t.Fatalf("stats %+v, want %+v", s, tt.wantStats)
				}
				// After finishSecret, a new connection uses the new AWSCURRENT.
				if _, err := c.query(ctx); err != nil {
					t.Fatalf("after the rotation: %v", err)
				}
			})
		}
	}
}

// TestConfigurePoolAloneFailsOnceThenHeals pins what ConfigurePool's
// documentation says of a plain *pgxpool.Pool: pgxpool cannot retry a
// connection attempt, so the acquire that was refused fails, and the
// next one reads the new credential.
func TestConfigurePoolAloneFailsOnceThenHeals(t *testing.T) {
	r := newRig(t, singleUser)
	cfg, err := pgxpool.ParseConfig(r.connString())
	if err != nil {
		t.Fatal(err)
	}
	creds, err := pgxrotate.ConfigurePool(cfg, r.cache, r.arn, pgxrotate.WithLogger(r.logs.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	ctx := context.Background()
	if err := pool.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	r.rotate(1)
	pool.Reset()
	err = pool.Ping(ctx)
	if !pgxrotate.IsAuthFailure(err) {
		t.Fatalf("first connection after the rotation: %v, want the refusal", err)
	}
	r.noteErr(err)
	if err := pool.Ping(ctx); err != nil {
		t.Fatalf("second connection: %v", err)
	}
	if s := creds.Stats(); s.AuthFailures != 1 || s.Retries != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestConfigurePoolKeepsTheApplicationsHooks checks that hooks set before
// ConfigurePool still run, BeforeAcquire included (pgxpool ignores it once
// PrepareConn is set).
func TestConfigurePoolKeepsTheApplicationsHooks(t *testing.T) {
	r := newRig(t, singleUser)
	cfg, err := pgxpool.ParseConfig(r.connString())
	if err != nil {
		t.Fatal(err)
	}
	var before, acquire, release int
	cfg.BeforeConnect = func(_ context.Context, cc *pgx.ConnConfig) error {
		before++
		cc.RuntimeParams["application_name"] = "hooked"
		return nil
	}
	cfg.BeforeAcquire = func(context.Context, *pgx.Conn) bool { acquire++; return true }
	cfg.AfterRelease = func(*pgx.Conn) bool { release++; return true }
	cfg.MaxConns = 1
	pool, err := pgxrotate.NewPool(context.Background(), cfg, r.cache, r.arn, pgxrotate.WithLogger(r.logs.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var app, user string
	if err := pool.QueryRow(context.Background(), "SELECT current_setting('application_name'), session_user").Scan(&app, &user); err != nil {
		t.Fatal(err)
	}
	pool.Close() // waits for AfterRelease
	if app != "hooked" || user != r.user {
		t.Fatalf("application_name %q user %q", app, user)
	}
	if before != 1 || acquire != 1 || release != 1 {
		t.Fatalf("hooks ran BeforeConnect %d, BeforeAcquire %d, AfterRelease %d times; want 1 each", before, acquire, release)
	}
}

func TestMalformedSecret(t *testing.T) {
	for _, cl := range clients {
		t.Run(cl.name, func(t *testing.T) {
			r := newRig(t, singleUser)
			const leak = "not-json-Secret-password"
			r.secret = append(r.secret, leak)
			if _, err := r.sm.Client().PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{
				SecretId: aws.String(r.arn), SecretString: aws.String("password=" + leak),
			}); err != nil {
				t.Fatal(err)
			}
			c := cl.open(t, r)
			_, err := c.query(context.Background())
			if !errors.Is(err, pgxrotate.ErrMalformedSecret) {
				t.Fatalf("%v, want ErrMalformedSecret", err)
			}
			r.noteErr(err)
			if !strings.Contains(err.Error(), r.arn) && !strings.Contains(err.Error(), "rds/app") {
				t.Fatalf("the error does not name the secret: %v", err)
			}
		})
	}
}

func TestInvalidArguments(t *testing.T) {
	cache := secretcache.New(nil)
	cfg, err := pgxpool.ParseConfig("host=127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	cc, err := pgx.ParseConfig("host=127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		call func() error
	}{
		{"nil pool config", func() error { _, err := pgxrotate.ConfigurePool(nil, cache, "id"); return err }},
		{"nil source", func() error { _, err := pgxrotate.ConfigurePool(cfg, nil, "id"); return err }},
		{"empty secret ID", func() error { _, err := pgxrotate.ConfigurePool(cfg, cache, ""); return err }},
		{"nil conn config", func() error { _, err := pgxrotate.NewConnector(nil, cache, "id"); return err }},
		{"connector, empty secret ID", func() error { _, err := pgxrotate.NewConnector(cc, cache, ""); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, pgxrotate.ErrInvalidArgument) {
				t.Fatalf("%v, want ErrInvalidArgument", err)
			}
		})
	}
}
