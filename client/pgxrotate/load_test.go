package pgxrotate_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rotatorkit/rotator/client/pgxrotate"
	"github.com/rotatorkit/rotator/client/secretcache"
)

const (
	workers   = 8
	rotations = 10
	maxConns  = 4
	// churnLifetime makes the pools open new connections all through the
	// rotations, since PostgreSQL keeps open sessions working after a
	// password change: only new connections meet a rotation.
	churnLifetime = 50 * time.Millisecond
)

// loadCase is one way an application meets rotations.
type loadCase struct {
	name string
	kind strategyKind
	// churn: connections live churnLifetime, so new ones are opened
	// throughout, with the cache's default TTL (5 minutes: it never expires
	// in the test, only refusals make the clients fetch).
	churn bool
	// ttl > 0: connections live long, and the cache's short TTL makes it
	// see each new version, which recycles the older connections.
	ttl time.Duration
}

var loadCases = []loadCase{
	{name: "alternating users, new connections throughout", kind: alternatingUsers, churn: true},
	{name: "single user, new connections throughout", kind: singleUser, churn: true},
	{name: "alternating users, connections recycled on a new version", kind: alternatingUsers, ttl: 20 * time.Millisecond},
	{name: "single user, connections recycled on a new version", kind: singleUser, ttl: 20 * time.Millisecond},
}

// client is what a load test needs from a pool or a sql.DB.
type client struct {
	query    func(ctx context.Context) (string, error)
	newConns func() int64 // connections opened so far
	stats    func() pgxrotate.Stats
}

// runUnderLoad runs workers querying without pause through c while
// rotations rotate the rig's secret, and checks that no query failed.
func runUnderLoad(t *testing.T, r *rig, tc loadCase, c client) {
	t.Helper()
	l := startLoad(r, workers, c.query)
	defer l.stop()
	lastQueries, lastConns := int64(0), c.newConns()
	lastRotation := time.Now()
	progress := func() {
		t.Helper()
		// Queries run, and new connections were opened (churn) or the
		// cache's TTL passed (recycle), since the last rotation.
		waitFor(t, "queries between rotations", func() bool {
			if l.queries.Load() < lastQueries+100 {
				return false
			}
			if tc.churn {
				return c.newConns() >= lastConns+maxConns
			}
			return time.Since(lastRotation) > 3*tc.ttl
		})
	}
	for i := 1; i <= rotations; i++ {
		progress()
		lastQueries, lastConns = l.queries.Load(), c.newConns()
		r.rotate(i)
		lastRotation = time.Now()
	}
	progress()
	l.stop()

	s := c.stats()
	cs := r.cache.Stats()
	t.Logf("%s: %d rotations, %d queries by %d workers, %d failed; query delay p50 %s, p99 %s, worst %s; "+
		"refused connection attempts %d, retries %d, AWSPENDING used %d times, connections recycled %d; "+
		"GetSecretValue by the application: %d (1 first read + %d re-fetches); users: %s",
		tc.name, rotations, l.queries.Load(), workers, l.failures.Load(),
		l.percentile(50).Round(time.Microsecond), l.percentile(99).Round(time.Microsecond), l.worst.Round(time.Microsecond),
		s.AuthFailures, s.Retries, s.PendingUsed, s.Recycled,
		cs.Fetches, cs.Fetches-1, l.usersSeen())

	if n := l.failures.Load(); n != 0 {
		t.Errorf("%d of %d queries failed; first errors:\n%s\nclient log (secret IDs, versions and users only):\n%s",
			n, l.queries.Load(), strings.Join(l.errs, "\n"), clientLog(r))
	}
	if tc.churn && s.AuthFailures == 0 {
		t.Errorf("no connection attempt was refused: the test did not meet a rotation with a stale credential")
	}
	if tc.ttl > 0 && s.Recycled == 0 {
		t.Errorf("no connection was recycled after a new version")
	}
	// Only where the cache sees each version (its TTL) must the clone log
	// in. With churn, the cache keeps its 5-minute TTL and reads the secret
	// only when a login is refused: when an even rotation changes the first
	// user's password. AWSCURRENT names the clone from that setSecret until
	// finishSecret only, and a refusal after finishSecret reads the first
	// user again; a loaded machine may miss that window at every rotation.
	if tc.kind == alternatingUsers && tc.ttl > 0 && !strings.Contains(l.usersSeen(), r.user+"_clone") {
		t.Errorf("the user did not follow the secret: users seen %s", l.usersSeen())
	}
}

func TestPoolUnderLoad(t *testing.T) {
	for _, tc := range loadCases {
		t.Run(tc.name, func(t *testing.T) {
			var opts []secretcache.Option
			if tc.ttl > 0 {
				opts = append(opts, secretcache.WithTTL(tc.ttl))
			}
			r := newRig(t, tc.kind, opts...)
			cfg, err := pgxpool.ParseConfig(r.connString())
			if err != nil {
				t.Fatal(err)
			}
			cfg.MaxConns = maxConns
			if tc.churn {
				cfg.MaxConnLifetime, cfg.MaxConnLifetimeJitter = churnLifetime, churnLifetime/2
			}
			pool, err := pgxrotate.NewPool(context.Background(), cfg, r.cache, r.arn, pgxrotate.WithLogger(r.logs.Logger()))
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			runUnderLoad(t, r, tc, client{
				query: func(ctx context.Context) (string, error) {
					var u string
					err := pool.QueryRow(ctx, "SELECT session_user").Scan(&u)
					return u, err
				},
				newConns: func() int64 { return pool.Stat().NewConnsCount() },
				stats:    pool.Credentials().Stats,
			})
		})
	}
}

func TestDatabaseSQLUnderLoad(t *testing.T) {
	for _, tc := range loadCases {
		t.Run(tc.name, func(t *testing.T) {
			var opts []secretcache.Option
			if tc.ttl > 0 {
				opts = append(opts, secretcache.WithTTL(tc.ttl))
			}
			r := newRig(t, tc.kind, opts...)
			cfg, err := pgx.ParseConfig(r.connString())
			if err != nil {
				t.Fatal(err)
			}
			conn, err := pgxrotate.NewConnector(cfg, r.cache, r.arn, pgxrotate.WithLogger(r.logs.Logger()))
			if err != nil {
				t.Fatal(err)
			}
			db := sql.OpenDB(conn)
			defer db.Close()
			db.SetMaxOpenConns(maxConns)
			db.SetMaxIdleConns(maxConns)
			if tc.churn {
				db.SetConnMaxLifetime(churnLifetime)
			}
			runUnderLoad(t, r, tc, client{
				query: func(ctx context.Context) (string, error) {
					var u string
					err := db.QueryRowContext(ctx, "SELECT session_user").Scan(&u)
					return u, err
				},
				newConns: func() int64 {
					// database/sql does not count opened connections: the
					// closed ones plus the open ones are.
					s := db.Stats()
					return int64(s.OpenConnections) + s.MaxLifetimeClosed + s.MaxIdleClosed + s.MaxIdleTimeClosed
				},
				stats: conn.Credentials().Stats,
			})
		})
	}
}

// clientLog is what the cache and the clients logged: version IDs and user
// names, never a value (the rig's leak check proves it).
func clientLog(r *rig) string {
	var out []string
	for _, line := range strings.Split(r.logs.String(), "\n") {
		if strings.Contains(line, `"client"`) || strings.Contains(line, "secretcache") {
			out = append(out, line)
		}
	}
	if len(out) > 80 {
		out = out[len(out)-80:]
	}
	return strings.Join(out, "\n")
}
