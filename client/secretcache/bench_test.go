package secretcache_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotatorkit/rotator/client/secretcache"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

// missCallers is how many callers miss at once in ConcurrentMiss.
const missCallers = 16

// BenchmarkCache compares, in one run against rotatortest's Secrets
// Manager (HTTP on 127.0.0.1, the real SDK client), what reading a secret
// costs an application: a cache hit, a miss shared by missCallers
// concurrent callers (one op is the whole group), and a plain
// GetSecretValue per request as an application without a cache makes.
// calls/op is the GetSecretValue calls per op.
//
//	go test -run '^$' -bench '^BenchmarkCache$' -benchmem ./client/secretcache
func BenchmarkCache(b *testing.B) {
	sm := rotatortest.NewServer()
	defer sm.Close()
	id := sm.MustCreateSecret(b, "bench/db", `{"username":"app","password":"bench-password"}`)
	ctx := context.Background()
	quiet := secretcache.WithLogger(slog.New(slog.DiscardHandler))

	b.Run("Hit", func(b *testing.B) {
		c := secretcache.New(sm.Client(), quiet)
		defer c.Close()
		if _, err := c.Get(ctx, id); err != nil {
			b.Fatal(err)
		}
		before := c.Stats().Fetches
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.Get(ctx, id); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(c.Stats().Fetches-before)/float64(b.N), "calls/op")
	})

	b.Run("ConcurrentMiss", func(b *testing.B) {
		c := secretcache.New(sm.Client(), quiet)
		defer c.Close()
		b.ReportAllocs()
		for b.Loop() {
			c.Invalidate(id)
			var wg sync.WaitGroup
			for range missCallers {
				wg.Go(func() {
					if _, err := c.Get(ctx, id); err != nil {
						b.Error(err)
					}
				})
			}
			wg.Wait()
		}
		b.ReportMetric(float64(c.Stats().Fetches)/float64(b.N), "calls/op")
		b.ReportMetric(missCallers, "callers/op")
	})

	b.Run("GetSecretValuePerRequest", func(b *testing.B) {
		client := sm.Client()
		in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := client.GetSecretValue(ctx, in); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(1, "calls/op")
	})
}
