// keyfile-rotator is a user's own rotator, as a test builds one: the
// "service" is a file listing the valid API keys ($KEYFILE), so a test can
// see what the rotation did from outside the process.
package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/rotatorkit/rotator/rotator"
)

type keyFile struct{ path string }

func (k keyFile) keys() []string {
	b, _ := os.ReadFile(k.path)
	return strings.Fields(string(b))
}

func (k keyFile) set(keys []string) error {
	return os.WriteFile(k.path, []byte(strings.Join(keys, "\n")+"\n"), 0o600)
}

type rotatorStrategy struct{ svc keyFile }

func (s rotatorStrategy) CreatePending(ctx context.Context, r *rotator.Rotation) (*rotator.Secret, error) {
	cur, err := r.Current(ctx)
	if err != nil {
		return nil, err
	}
	key, err := r.NewPassword(ctx)
	if err != nil {
		return nil, err
	}
	next := cur.Clone()
	next.SetString("api_key", key)
	return next, nil
}

func (s rotatorStrategy) SetPending(ctx context.Context, r *rotator.Rotation) error {
	p, err := r.Pending(ctx)
	if err != nil {
		return err
	}
	if r.DryRun {
		return nil
	}
	key, _ := p.String("api_key")
	if keys := s.svc.keys(); !slices.Contains(keys, key) {
		return s.svc.set(append(keys, key))
	}
	return nil
}

func (s rotatorStrategy) TestPending(ctx context.Context, r *rotator.Rotation) error {
	p, err := r.Pending(ctx)
	if err != nil {
		return err
	}
	if key, _ := p.String("api_key"); !slices.Contains(s.svc.keys(), key) {
		return fmt.Errorf("pending key rejected: %w", rotator.ErrLoginFailed)
	}
	return nil
}

func (s rotatorStrategy) Preflight(_ context.Context, in rotator.PreflightInput) []rotator.Check {
	key, _ := in.Current.String("api_key")
	if slices.Contains(s.svc.keys(), key) {
		return []rotator.Check{{Name: "current key accepted", Status: rotator.CheckPass, Detail: "the service knows " + key}}
	}
	return []rotator.Check{{Name: "current key accepted", Status: rotator.CheckFail, Detail: "the service rejects " + key, Fix: "store a valid key"}}
}

func main() {
	rotator.StartLambda(func(context.Context) (rotator.Strategy, error) {
		return rotatorStrategy{svc: keyFile{path: os.Getenv("KEYFILE")}}, nil
	})
}
