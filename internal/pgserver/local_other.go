//go:build !unix

package pgserver

import "context"

func findBinaries(_, _, _ string) (string, string) {
	return "", "local servers are supported on Unix systems only"
}

func startLocal(context.Context, Options, string) (*Server, string, error) {
	return nil, "local servers are supported on Unix systems only", nil
}
