package sqlrotate_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"log"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/go-sql-driver/mysql"

	"github.com/rotatorkit/rotator/client/secretcache"
	"github.com/rotatorkit/rotator/client/sqlrotate"
	mysqlengine "github.com/rotatorkit/rotator/engines/mysql"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
	"github.com/rotatorkit/rotator/strategies/single"
)

// rig is a MariaDB user's secret in rotatortest's Secrets Manager, its
// rotation and the cache the application reads it through.
type rig struct {
	t      *testing.T
	m      *mariaDB
	sm     *rotatortest.Server
	arn    string
	user   string
	handle rotatortest.RotationFunc
	logs   *rotatortest.LogBuffer
	cache  *secretcache.Cache

	mu     sync.Mutex
	secret []string
	errs   []string
}

func newRig(t *testing.T, cacheOpts ...secretcache.Option) *rig {
	t.Helper()
	m := sharedMariaDB(t)
	r := &rig{t: t, m: m, sm: rotatortest.NewServer(), logs: &rotatortest.LogBuffer{}}
	t.Cleanup(r.sm.Close)
	var b [5]byte
	_, _ = rand.Read(b[:])
	r.user = "app_" + hex.EncodeToString(b[:])
	pw := "first-" + hex.EncodeToString(b[:]) + "-Password!"
	m.createUser(t, r.user, pw)
	r.secret = append(r.secret, pw)
	// The rig's server has no TLS: "ssl": false, and the engine answers
	// only challenges (mysql_native_password) on such a connection.
	sec := rotator.NewSecret(map[string]string{"engine": "mysql", "host": "127.0.0.1", "port": strconv.Itoa(m.port), "ssl": "false", "username": r.user, "password": pw})
	v, err := sec.Value()
	if err != nil {
		t.Fatal(err)
	}
	r.arn = r.sm.MustCreateSecret(t, "rds/"+r.user, v)
	// The real single-user rotator of the mysql-single-user function.
	h, err := rotator.New(r.sm.Client(), single.New(mysqlengine.New()), rotator.WithLogger(r.logs.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	r.handle = func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
		err := h.Handle(ctx, ev)
		if err != nil {
			r.noteErr(err)
		}
		return err
	}
	r.cache = secretcache.New(r.sm.Client(), append([]secretcache.Option{secretcache.WithLogger(r.logs.Logger())}, cacheOpts...)...)
	t.Cleanup(r.cache.Close)
	t.Cleanup(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		rotatortest.AssertNoSecrets(t, "logs", r.logs.String(), r.secret...)
		rotatortest.AssertNoSecrets(t, "errors", strings.Join(r.errs, "\n"), r.secret...)
	})
	return r
}

func (r *rig) noteErr(err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err.Error())
	r.mu.Unlock()
}

func (r *rig) rotate(i int) {
	r.t.Helper()
	out, _ := rotatortest.Rotate(r.t, r.sm, r.arn, r.handle)
	if !out.Succeeded {
		r.t.Fatalf("rotation %d: %v", i, out.Err)
	}
	if v, ok := r.sm.ValueOf(r.arn, r.sm.VersionOf(r.arn, secretcache.StageCurrent)); ok {
		s, err := rotator.ParseSecret(v)
		if err != nil {
			r.t.Fatal(err)
		}
		r.mu.Lock()
		r.secret = append(r.secret, s.Password())
		r.mu.Unlock()
	}
}

// open returns a sql.DB over a MySQLConnector; the driver's own log goes
// to the rig's buffer too, for the leak check.
func (r *rig) open(opts ...sqlrotate.Option) (*sql.DB, *sqlrotate.MySQLConnector) {
	r.t.Helper()
	cfg := r.m.config()
	cfg.Logger = log.New(r.logs, "[mysql] ", 0)
	c, err := sqlrotate.NewMySQLConnector(cfg, r.cache, r.arn, append([]sqlrotate.Option{sqlrotate.WithLogger(r.logs.Logger())}, opts...)...)
	if err != nil {
		r.t.Fatal(err)
	}
	db := sql.OpenDB(c)
	r.t.Cleanup(func() { _ = db.Close() })
	return db, c
}

// connects wraps a connector to tell the load test when the connections
// begun before a rotation have ended: database/sql counts a connection as
// open while it is still logging in.
type connects struct {
	driver.Connector
	mu       sync.Mutex
	epoch    int         // rotations done
	inflight map[int]int // Connect calls in progress, by the epoch they began in
	made     int         // connections made
}

func (c *connects) Connect(ctx context.Context) (driver.Conn, error) {
	c.mu.Lock()
	e := c.epoch
	c.inflight[e]++
	c.mu.Unlock()
	conn, err := c.Connector.Connect(ctx)
	c.mu.Lock()
	c.inflight[e]--
	if err == nil {
		c.made++
	}
	c.mu.Unlock()
	return conn, err
}

// rotated starts a new epoch; it returns the connections made so far.
func (c *connects) rotated() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	return c.made
}

// caughtUp reports whether n connections were made since made, and every
// Connect begun before the last rotation has ended.
func (c *connects) caughtUp(made, n int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for e, k := range c.inflight {
		if e < c.epoch && k > 0 {
			return false
		}
	}
	return c.made >= made+n
}

func whoami(ctx context.Context, db *sql.DB) (string, error) {
	var u string
	err := db.QueryRowContext(ctx, "SELECT USER()").Scan(&u)
	return u, err
}

func TestMySQLConnectorUnderLoad(t *testing.T) {
	const workers, rotations, maxConns = 8, 10, 4
	tests := []struct {
		name  string
		churn bool          // connections live 50 ms, the cache keeps its 5-minute TTL
		ttl   time.Duration // connections live long, the cache sees each new version
	}{
		{name: "single user, new connections throughout", churn: true},
		{name: "single user, connections recycled on a new version", ttl: 20 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []secretcache.Option
			if tt.ttl > 0 {
				opts = append(opts, secretcache.WithTTL(tt.ttl))
			}
			r := newRig(t, opts...)
			_, conn := r.open()
			cc := &connects{Connector: conn, inflight: map[int]int{}}
			db := sql.OpenDB(cc)
			t.Cleanup(func() { _ = db.Close() })
			db.SetMaxOpenConns(maxConns)
			db.SetMaxIdleConns(maxConns)
			if tt.churn {
				db.SetConnMaxLifetime(50 * time.Millisecond)
			}

			ctx, cancel := context.WithCancel(context.Background())
			var queries, failures atomic.Int64
			var mu sync.Mutex
			var worst time.Duration
			var delays []time.Duration
			var firstErrs []string
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					for ctx.Err() == nil {
						start := time.Now()
						_, err := whoami(ctx, db)
						d := time.Since(start)
						if ctx.Err() != nil {
							return
						}
						queries.Add(1)
						mu.Lock()
						worst = max(worst, d)
						delays = append(delays, d)
						if err != nil {
							failures.Add(1)
							if len(firstErrs) < 5 {
								firstErrs = append(firstErrs, err.Error())
							}
							r.noteErr(err)
						}
						mu.Unlock()
					}
				})
			}
			stop := func() { cancel(); wg.Wait() }
			defer stop()
			// Between rotations, queries run and (churn) the connections
			// begun before the last rotation end and new ones are made: a
			// login under load can take longer than a rotation, and rotations
			// come hours apart, never several during one login.
			lastQ, lastC, lastRot := int64(0), cc.rotated(), time.Now()
			progress := func() {
				deadline := time.Now().Add(30 * time.Second)
				for queries.Load() < lastQ+100 || (tt.churn && !cc.caughtUp(lastC, maxConns)) || (!tt.churn && time.Since(lastRot) < 3*tt.ttl) {
					if time.Now().After(deadline) {
						t.Fatal("timed out waiting for queries between rotations")
					}
					time.Sleep(time.Millisecond)
				}
			}
			for i := 1; i <= rotations; i++ {
				progress()
				lastQ = queries.Load()
				r.rotate(i)
				lastC = cc.rotated()
				lastRot = time.Now()
			}
			progress()
			stop()

			sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
			pct := func(p float64) time.Duration { return delays[min(len(delays)-1, int(float64(len(delays))*p/100))] }
			s := conn.Stats()
			t.Logf("%s: %d rotations, %d queries by %d workers, %d failed; query delay p50 %s, p99 %s, worst %s; "+
				"refused logins %d, retries %d, AWSPENDING used %d times, connections recycled %d; "+
				"GetSecretValue by the application: %d",
				tt.name, rotations, queries.Load(), workers, failures.Load(), pct(50).Round(time.Microsecond),
				pct(99).Round(time.Microsecond), worst.Round(time.Microsecond),
				s.AuthFailures, s.Retries, s.PendingUsed, s.Recycled, r.cache.Stats().Fetches)
			if n := failures.Load(); n != 0 {
				t.Errorf("%d queries failed: %s", n, strings.Join(firstErrs, "\n"))
			}
			if tt.churn && s.AuthFailures == 0 {
				t.Error("no login was refused: the test did not meet a rotation with a stale credential")
			}
			if tt.ttl > 0 && s.Recycled == 0 {
				t.Error("no connection was recycled after a new version")
			}
		})
	}
}

func TestMySQLPendingFallbackBetweenSetSecretAndFinishSecret(t *testing.T) {
	tests := []struct {
		name    string
		pending bool
		wantErr bool
		want    sqlrotate.Stats
	}{
		{"pending fallback on", true, false, sqlrotate.Stats{AuthFailures: 1, Retries: 1, PendingUsed: 1}},
		{"pending fallback off", false, true, sqlrotate.Stats{AuthFailures: 2, Retries: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			db, conn := r.open(sqlrotate.WithPendingFallback(tt.pending))
			db.SetMaxIdleConns(0) // every query logs in
			ctx := context.Background()
			if _, err := whoami(ctx, db); err != nil {
				t.Fatal(err)
			}
			var got error
			inner := r.handle
			r.handle = func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
				err := inner(ctx, ev)
				if err == nil && ev.Step == rotatortest.StepSet {
					_, got = whoami(ctx, db)
				}
				return err
			}
			r.rotate(1)
			if (got != nil) != tt.wantErr {
				t.Fatalf("query between setSecret and finishSecret: %v, want error %v", got, tt.wantErr)
			}
			if got != nil {
				r.noteErr(got)
				if !sqlrotate.IsAuthFailure(got) {
					t.Fatalf("%v is not an authentication failure", got)
				}
			}
			if s := conn.Stats(); s != tt.want {
				t.Fatalf("stats %+v, want %+v", s, tt.want)
			}
			if _, err := whoami(ctx, db); err != nil {
				t.Fatalf("after the rotation: %v", err)
			}
		})
	}
}

func TestMySQLConnectorInvalidArguments(t *testing.T) {
	cache := secretcache.New(nil)
	tests := []struct {
		name string
		cfg  *mysql.Config
		src  sqlrotate.Source
		id   string
	}{
		{"nil config", nil, cache, "id"},
		{"nil source", mysql.NewConfig(), nil, "id"},
		{"empty secret ID", mysql.NewConfig(), cache, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := sqlrotate.NewMySQLConnector(tt.cfg, tt.src, tt.id); !errors.Is(err, sqlrotate.ErrInvalidArgument) {
				t.Fatalf("%v, want ErrInvalidArgument", err)
			}
		})
	}
}
