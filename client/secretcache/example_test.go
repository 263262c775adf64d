package secretcache_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotatorkit/rotator/client/secretcache"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

var staleReads atomic.Int64

// README:begin secretcache
// newCache makes the process's one cache, shared by every reader of every
// secret. sm is secretsmanager.NewFromConfig(awsCfg) in production.
func newCache(sm secretcache.API) *secretcache.Cache {
	return secretcache.New(sm,
		secretcache.WithTTL(5*time.Minute),      // the default
		secretcache.WithMaxStaleness(time.Hour), // through an outage, serve the last value this long past its TTL
		secretcache.WithStaleHandler(func(secretcache.StaleEvent) { staleReads.Add(1) }),
	)
}

// dbSecret returns the database secret's JSON (username, password, host...).
func dbSecret(ctx context.Context, cache *secretcache.Cache) (string, error) {
	v, err := cache.Get(ctx, "prod/app/db") // AWSCURRENT; cache.GetStage(ctx, id, secretcache.StagePrevious) for AWSPREVIOUS
	if err != nil {
		return "", err // errors.Is(err, secretcache.ErrUnavailable): no value fresh enough to serve
	}
	return v.SecretString(), nil // fmt.Print(v) shows the version, never the value
}

// README:end secretcache

func Example() {
	ctx := context.Background()
	sm := rotatortest.NewServer() // an in-process Secrets Manager
	defer sm.Close()
	if _, err := sm.Client().CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("prod/app/db"), SecretString: aws.String(`{"username":"app","password":"s3cret"}`),
	}); err != nil {
		panic(err)
	}
	cache := newCache(sm.Client())
	defer cache.Close()
	for range 3 {
		if _, err := dbSecret(ctx, cache); err != nil {
			panic(err)
		}
	}
	v, _ := cache.Get(ctx, "prod/app/db")
	fmt.Println("GetSecretValue calls for 4 reads:", sm.CallCounts()["GetSecretValue"])
	fmt.Println("printed:", v.String() == fmt.Sprint(v), fmt.Sprint(v) != v.SecretString())
	// Output:
	// GetSecretValue calls for 4 reads: 1
	// printed: true true
}
