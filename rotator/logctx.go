package rotator

import (
	"context"
	"log/slog"
)

type loggerKey struct{}

// ContextWithLogger returns ctx carrying l, for LoggerFrom.
func ContextWithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// LoggerFrom returns the logger the handler put in ctx for the step it
// runs: scrubbed of every value the rotation knows, and carrying the
// secret, step and token. Engines log through it, so that their warnings
// reach the function's log (CloudWatch) like the handler's own lines.
// It returns nil outside a step.
func LoggerFrom(ctx context.Context) *slog.Logger {
	l, _ := ctx.Value(loggerKey{}).(*slog.Logger)
	return l
}
