package rotator

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

// StartLambda is the whole of a rotation function's main: it builds the
// strategy, the Handler from the environment (NewFromEnv) and hands its
// Invoke to the Lambda runtime. A build error is logged as JSON and ends the process,
// which Lambda reports as an init error.
func StartLambda(build func(ctx context.Context) (Strategy, error), opts ...Option) {
	ctx := context.Background()
	fail := func(err error) {
		slog.New(slog.NewJSONHandler(os.Stdout, nil)).Error("init failed", slog.String("error", err.Error()))
		os.Exit(1)
	}
	s, err := build(ctx)
	if err != nil {
		fail(err)
	}
	h, err := NewFromEnv(ctx, s, opts...)
	if err != nil {
		fail(err)
	}
	lambda.Start(h.Invoke)
}
