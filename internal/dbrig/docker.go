package dbrig

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
)

// ContainerLabel labels the containers the rigs start (with the rig's name
// as value): where testcontainers' reaper is disabled, an engine or test
// binary killed mid-run leaves containers behind, and .ci/docker removes
// the exited ones carrying this label.
const ContainerLabel = "org.rotatorkit.rotator"

// Bounds on the Docker steps, so that an engine that stops answering or a
// registry that cannot be reached gives an error rather than a hang. A
// pull is given longer: a first pull on a slow line takes a while.
const (
	DockerCheckTimeout = 10 * time.Second
	PullTimeout        = 4 * time.Minute
	StopTimeout        = time.Minute
)

// ErrEngineDown: the Docker engine does not answer.
var ErrEngineDown = errors.New("the Docker engine does not answer")

var docker struct {
	once sync.Once
	ok   bool
	why  string
}

// DockerAvailable reports, once per process and within DockerCheckTimeout,
// whether a Docker engine answers testcontainers' health check, and why
// not. Without a Docker engine it fails fast.
func DockerAvailable(ctx context.Context) (bool, string) {
	docker.once.Do(func() {
		docker.ok, docker.why = checkDocker(ctx)
	})
	return docker.ok, docker.why
}

// checkDocker asks whether a Docker engine answers, within
// DockerCheckTimeout whatever happens: testcontainers' client creation
// talks to the engine without a deadline, and an engine that accepts and
// never answers would otherwise hang every test (the goroutine is left
// behind then, once per process).
func checkDocker(ctx context.Context) (ok bool, why string) {
	ctx, cancel := context.WithTimeout(ctx, DockerCheckTimeout)
	defer cancel()
	type result struct {
		ok  bool
		why string
	}
	done := make(chan result, 1)
	go func() {
		ok, why := checkDockerUnbounded(ctx)
		done <- result{ok, why}
	}()
	select {
	case r := <-done:
		return r.ok, r.why
	case <-ctx.Done():
		return false, fmt.Sprintf("%v within %v", ErrEngineDown, DockerCheckTimeout)
	}
}

func checkDockerUnbounded(ctx context.Context) (ok bool, why string) {
	defer func() {
		if r := recover(); r != nil {
			ok, why = false, fmt.Sprint(r)
		}
	}()
	provider, err := testcontainers.ProviderDefault.GetProvider(testcontainers.WithLogger(tclog.NewNoopLogger()))
	if err != nil {
		return false, err.Error()
	}
	defer provider.Close()
	if err := provider.Health(ctx); err != nil {
		return false, err.Error()
	}
	return true, ""
}

// inspectImage reports whether the engine has image. Its error says the
// engine did not answer (a missing image is not an error).
func inspectImage(ctx context.Context, provider *testcontainers.DockerProvider, image string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, DockerCheckTimeout)
	defer cancel()
	// Listing fails only when the engine does not answer; an inspection
	// also fails for a missing image, and telling the two apart would need
	// the engine client's error types.
	if _, err := provider.ListImages(ctx); err != nil {
		return false, err
	}
	_, err := provider.Client().ImageInspect(ctx, image)
	return err == nil, nil
}

// EnsureImage makes sure the engine has image, pulling it (within
// PullTimeout) when it has not, so that a missing image is reported as
// such, quickly, instead of as a failure deep in a container start.
func EnsureImage(ctx context.Context, image string) (err error) {
	defer func() {
		if r := recover(); r != nil { // testcontainers panics on some engine failures
			err = fmt.Errorf("%v", r)
		}
	}()
	provider, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(tclog.NewNoopLogger()))
	if err != nil {
		return fmt.Errorf("docker provider: %w", err)
	}
	defer provider.Close()
	if ok, err := inspectImage(ctx, provider, image); err != nil {
		// Not a pull: testcontainers retries a pull that cannot connect
		// until its deadline.
		return fmt.Errorf("%w: %w", ErrEngineDown, err)
	} else if ok {
		return nil
	}
	start := time.Now()
	pctx, cancel := context.WithTimeout(ctx, PullTimeout)
	defer cancel()
	if err := provider.PullImage(pctx, image); err != nil {
		if pctx.Err() != nil && ctx.Err() == nil {
			return fmt.Errorf("the image is not on this Docker engine, and pulling it did not finish in %s: %w", PullTimeout, err)
		}
		return fmt.Errorf("the image is not on this Docker engine, and pulling it failed after %s: %w", time.Since(start).Round(time.Millisecond), err)
	}
	// A pull whose error came in the progress stream returns no error.
	if ok, err := inspectImage(ctx, provider, image); !ok {
		return fmt.Errorf("the image is not on this Docker engine, and pulling it did not make it appear (%v)", err)
	}
	return nil
}

// EngineDown returns why the Docker engine does not answer now, or "".
// (testcontainers' own health check answers from a cache after its first
// success.)
func EngineDown(ctx context.Context) (why string) {
	defer func() {
		if r := recover(); r != nil {
			why = fmt.Sprint(r)
		}
	}()
	provider, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(tclog.NewNoopLogger()))
	if err != nil {
		return err.Error()
	}
	defer provider.Close()
	if _, err := inspectImage(ctx, provider, "rotator-dbrig/engine-check:none"); err != nil {
		return err.Error()
	}
	return ""
}

// ContainerLog returns the last max bytes of a container's log, for an
// error message ("" when it cannot be read).
func ContainerLog(ctr testcontainers.Container, max int) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc, err := ctr.Logs(ctx)
	if err != nil {
		return ""
	}
	defer rc.Close()
	b, _ := io.ReadAll(io.LimitReader(rc, 1<<20))
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}

// ReadAll returns everything rc holds, closing it: a log read out of a
// container.
func ReadAll(rc io.ReadCloser, err error) (string, error) {
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return string(b), err
}

// Remove removes a container (nil: none), within StopTimeout (its own
// removal would wait on an engine that stopped answering), and the
// directory tmp on this host ("": none).
func Remove(ctr testcontainers.Container, tmp string) error {
	var err error
	if ctr != nil {
		sctx, cancel := context.WithTimeout(context.Background(), StopTimeout)
		defer cancel()
		if terr := ctr.Terminate(sctx, testcontainers.StopTimeout(10*time.Second)); terr != nil {
			err = fmt.Errorf("removing container %s: %w", ctr.GetContainerID(), terr)
		}
	}
	if tmp != "" {
		_ = os.RemoveAll(tmp)
	}
	return err
}

// WriteTemp writes data to a file name in a new temporary directory
// prefix+random, and returns both (the directory for Remove): the CA of a
// container's server, for Server.CAFile.
func WriteTemp(prefix, name string, data []byte) (dir, path string, err error) {
	dir, err = os.MkdirTemp("", prefix)
	if err != nil {
		return "", "", err
	}
	path = filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		_ = os.RemoveAll(dir)
		return "", "", err
	}
	return dir, path, nil
}

// File is a file to copy into a container, in ContainerTLS's directory.
type File struct {
	Name string
	Data []byte
	Mode int64
}

// ContainerTLS copies a server's TLS files into dir in the container and
// runs the image's docker-entrypoint.sh through a script (at script) that
// first gives them to the server's OS user owner and makes key readable
// by it alone: files are copied in owned by root, and the servers want to
// own their key. POSIX sh: the alpine and Debian images both run it.
func ContainerTLS(dir, script, owner, key string, files ...File) []testcontainers.ContainerCustomizer {
	var names []string
	var cfs []testcontainers.ContainerFile
	for _, f := range files {
		names = append(names, dir+f.Name)
		cfs = append(cfs, testcontainers.ContainerFile{Reader: bytes.NewReader(f.Data), ContainerFilePath: dir + f.Name, FileMode: f.Mode})
	}
	entrypoint := "#!/bin/sh\nset -e\n" +
		"chown " + owner + ":" + owner + " " + strings.Join(names, " ") + "\n" +
		"chmod 600 " + dir + key + "\n" +
		"exec docker-entrypoint.sh \"$@\"\n"
	cfs = append(cfs, testcontainers.ContainerFile{Reader: strings.NewReader(entrypoint), ContainerFilePath: script, FileMode: 0o755})
	return []testcontainers.ContainerCustomizer{
		testcontainers.WithFiles(cfs...),
		testcontainers.WithEntrypoint("sh", script),
	}
}
