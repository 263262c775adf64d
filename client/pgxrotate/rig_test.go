package pgxrotate_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rotatorkit/rotator/client/secretcache"
	"github.com/rotatorkit/rotator/engines/postgres"
	"github.com/rotatorkit/rotator/internal/pgtest"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
	"github.com/rotatorkit/rotator/strategies/alternating"
	"github.com/rotatorkit/rotator/strategies/single"
)

func TestMain(m *testing.M) { pgtest.Main(rotatortest.Hygienic(m)) }

type strategyKind string

const (
	singleUser       strategyKind = "single user"
	alternatingUsers strategyKind = "alternating users"
)

// rig is one application secret on the shared PostgreSQL, in rotatortest's
// Secrets Manager, rotated by the real handler (engines/postgres with the
// single or alternating strategy), and the cache the application reads it
// through.
type rig struct {
	t      *testing.T
	pg     *pgtest.Server
	sm     *rotatortest.Server
	arn    string
	user   string
	handle rotatortest.RotationFunc
	logs   *rotatortest.LogBuffer
	cache  *secretcache.Cache

	mu     sync.Mutex
	secret []string // every password the rig's secrets held
	errs   []string // every error text seen, for the leak check
}

func newRig(t *testing.T, kind strategyKind, cacheOpts ...secretcache.Option) *rig {
	t.Helper()
	pg := pgtest.Shared(t)
	r := &rig{t: t, pg: pg, sm: rotatortest.NewServer(), logs: &rotatortest.LogBuffer{}}
	t.Cleanup(r.sm.Close)
	r.user = pgtest.UniqueName("load")
	pw := pgtest.RandomPassword(32)
	pg.CreateRole(t, r.user, pw, "LOGIN")
	app := pg.Secret(r.user, pw)
	r.secret = append(r.secret, pw)

	engine := postgres.New()
	var strategy rotator.Strategy = single.New(engine)
	if kind == alternatingUsers {
		master := pg.Secret(pg.SuperUser, pg.SuperPassword)
		mv, err := master.Value()
		if err != nil {
			t.Fatal(err)
		}
		app.SetString(rotator.FieldMasterARN, r.sm.MustCreateSecret(t, pgtest.UniqueName("rds/master"), mv))
		r.secret = append(r.secret, pg.SuperPassword)
		strategy = alternating.New(engine, alternating.WithMaxUsernameLength(postgres.MaxIdentifierLength))
	}
	value, err := app.Value()
	if err != nil {
		t.Fatal(err)
	}
	r.arn = r.sm.MustCreateSecret(t, pgtest.UniqueName("rds/app"), value)
	h, err := rotator.New(r.sm.Client(), strategy, rotator.WithLogger(r.logs.Logger()))
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
	t.Cleanup(r.assertNoLeaks)
	return r
}

func (r *rig) noteErr(err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err.Error())
	r.mu.Unlock()
}

// connString names the server and database, not the credential.
func (r *rig) connString() string {
	return fmt.Sprintf("host=%s port=%d dbname=%s sslmode=disable connect_timeout=10", r.pg.Host, r.pg.Port, r.pg.Database)
}

// rotate runs one rotation through RotateSecret, as Secrets Manager does.
func (r *rig) rotate(i int) {
	r.t.Helper()
	out, _ := rotatortest.Rotate(r.t, r.sm, r.arn, r.handle)
	if !out.Succeeded {
		r.t.Fatalf("rotation %d: %v", i, out.Err)
	}
	for _, stage := range []string{secretcache.StageCurrent, secretcache.StagePrevious} {
		if v, ok := r.sm.ValueOf(r.arn, r.sm.VersionOf(r.arn, stage)); ok {
			s, err := rotator.ParseSecret(v)
			if err != nil {
				r.t.Fatal(err)
			}
			r.mu.Lock()
			r.secret = append(r.secret, s.Password())
			r.mu.Unlock()
		}
	}
}

func (r *rig) assertNoLeaks() {
	r.mu.Lock()
	defer r.mu.Unlock()
	rotatortest.AssertNoSecrets(r.t, "logs", r.logs.String(), r.secret...)
	rotatortest.AssertNoSecrets(r.t, "errors", strings.Join(r.errs, "\n"), r.secret...)
}

// load runs workers that query without pause until stopped, and records
// what happened.
type load struct {
	queries  atomic.Int64
	failures atomic.Int64

	mu    sync.Mutex
	worst time.Duration
	delay []time.Duration
	errs  []string
	users map[string]int

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startLoad starts n workers calling query (which returns session_user).
func startLoad(r *rig, n int, query func(ctx context.Context) (string, error)) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{users: map[string]int{}, cancel: cancel}
	for range n {
		l.wg.Go(func() {
			for ctx.Err() == nil {
				start := time.Now()
				qctx, qcancel := context.WithTimeout(ctx, 30*time.Second)
				user, err := query(qctx)
				qcancel()
				d := time.Since(start)
				if ctx.Err() != nil {
					return // stopped mid-query: not a failure
				}
				l.queries.Add(1)
				l.mu.Lock()
				if d > l.worst {
					l.worst = d
				}
				l.delay = append(l.delay, d)
				if err != nil {
					l.failures.Add(1)
					if len(l.errs) < 5 {
						l.errs = append(l.errs, err.Error())
					}
					r.noteErr(err)
				} else {
					l.users[user]++
				}
				l.mu.Unlock()
			}
		})
	}
	return l
}

// waitFor waits, without a fixed sleep, until cond holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (l *load) stop() {
	l.cancel()
	l.wg.Wait()
}

// percentile returns the p-th percentile (0-100) of the query delays.
func (l *load) percentile(p float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.delay) == 0 {
		return 0
	}
	d := append([]time.Duration(nil), l.delay...)
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[min(len(d)-1, int(float64(len(d))*p/100))]
}

func (l *load) usersSeen() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var names []string
	for u := range l.users {
		names = append(names, u)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
