package integration

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rotatorkit/rotator/client/secretcache"
	"github.com/rotatorkit/rotator/client/sqlrotate"
	"github.com/rotatorkit/rotator/internal/mariadbtest"
)

// An application's database/sql pool through client/sqlrotate keeps
// working, with no failed query, while the mysql-alternating-users rotator
// (the real engine and strategy, a master, a clone) rotates its secret ten
// times against MariaDB: the username follows the secret.
func TestMySQLClientUnderLoadAlternatingUsers(t *testing.T) {
	const workers, rotations = 8, 10
	db := myShared(t)
	r := myAlternatingRig(t, db, mariadbtest.UniqueName("cla"), nil, myRigConfig{})
	cache := secretcache.New(r.sm.Client(), secretcache.WithLogger(r.logs.Logger()))
	t.Cleanup(cache.Close)
	c, err := sqlrotate.NewMySQLConnector(db.Config("", ""), cache, r.arn, sqlrotate.WithLogger(r.logs.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	pool := sql.OpenDB(c)
	t.Cleanup(func() { _ = pool.Close() })
	pool.SetMaxOpenConns(4)
	pool.SetConnMaxLifetime(50 * time.Millisecond) // new connections throughout

	ctx, cancel := context.WithCancel(context.Background())
	var queries, failures atomic.Int64
	var mu sync.Mutex
	var worst time.Duration
	var firstErr error
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				start := time.Now()
				var who string
				err := pool.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&who)
				d := time.Since(start)
				if ctx.Err() != nil {
					return
				}
				queries.Add(1)
				mu.Lock()
				worst = max(worst, d)
				if err != nil {
					failures.Add(1)
					if firstErr == nil {
						firstErr = err
					}
				}
				mu.Unlock()
			}
		})
	}
	users := map[string]bool{}
	for i := 1; i <= rotations; i++ {
		if out := r.rotate(); !out.Succeeded {
			cancel()
			wg.Wait()
			t.Fatalf("rotation %d: %v", i, out.Err)
		}
		users[r.stage("AWSCURRENT").Username()] = true
		time.Sleep(50 * time.Millisecond) // let the pool reconnect in between
	}
	cancel()
	wg.Wait()
	t.Logf("alternating users: %d rotations, %d queries by %d workers, %d failed; worst query delay %v; GetSecretValue by the application: %d",
		rotations, queries.Load(), workers, failures.Load(), worst.Round(time.Millisecond), cache.Stats().Fetches)
	if failures.Load() != 0 {
		t.Fatalf("%d queries failed during the rotations; the first: %v", failures.Load(), firstErr)
	}
	if queries.Load() == 0 || len(users) != 2 {
		t.Fatalf("%d queries, users %v: the load or the alternation did not happen", queries.Load(), users)
	}
}
