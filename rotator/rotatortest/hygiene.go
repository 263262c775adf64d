package rotatortest

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rotatorkit/rotator/rotator"
)

// Secret hygiene: a test binary's check that no secret value reaches a
// log line, a returned error, a panic or a metric line.
//
// A [Hygiene] knows the values to look for and the text to look in. Every
// [Server] registers the secret values stored through it (the sensitive
// fields of a JSON SecretString, or a whole plain one) and the passwords
// GetRandomPassword made; every [LogBuffer] hands over what it is written
// (logs and metric lines alike); a rotation the server runs hands over
// each error and panic its function returned. [Hygienic] wraps a test
// binary's run: afterwards it scans all of it, fails the binary when a
// value appears, and reports its counts.
//
// Only values that cannot occur in text by chance are tracked: 12 bytes
// or more, or 8 or more from three character classes (what
// rotator.Scrubber removes everywhere). A value equal to a non-secret
// field of its secret (a password equal to the user name) is not tracked.

// EnvHygieneDir names a directory where [Hygienic] writes one file per
// test binary with its counts (make test sums them).
const EnvHygieneDir = "ROTATOR_HYGIENE_DIR"

// Hygiene collects secret values and captured text. Its methods are safe
// for concurrent use.
type Hygiene struct {
	on     atomic.Bool // tracking and capturing; a server outside a test (rotator local) keeps nothing
	mu     sync.Mutex
	values map[string]struct{}
	texts  []captured
	lines  int
}

type captured struct {
	kind string // "log", "error", "panic", "metric"
	text string
}

// NewHygiene returns an empty Hygiene that tracks values and sees every
// text captured from now until Stop. Servers register values into it only when made
// with [WithHygiene]; by default they register into the test binary's
// own, which [Hygienic] checks.
func NewHygiene() *Hygiene {
	h := &Hygiene{values: map[string]struct{}{}}
	h.start()
	return h
}

// start makes h track values and see captured text.
func (h *Hygiene) start() {
	activeMu.Lock()
	defer activeMu.Unlock()
	if !h.on.Swap(true) {
		active = append(active, h)
	}
}

// Stop makes h track and see nothing further.
func (h *Hygiene) Stop() {
	activeMu.Lock()
	defer activeMu.Unlock()
	h.on.Store(false)
	for i, a := range active {
		if a == h {
			active = append(active[:i:i], active[i+1:]...)
			return
		}
	}
}

var (
	activeMu sync.Mutex
	active   []*Hygiene
	// binaryHygiene is the test binary's own: on only while Hygienic runs
	// the tests.
	binaryHygiene = &Hygiene{values: map[string]struct{}{}}
)

// DefaultHygiene is the test binary's Hygiene, which servers register
// into by default and [Hygienic] checks.
func DefaultHygiene() *Hygiene { return binaryHygiene }

// Track registers secret values (passwords, keys) to look for. Values
// that could occur in text by chance are ignored.
func (h *Hygiene) Track(values ...string) {
	if !h.on.Load() {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, v := range values {
		if strong(v) {
			h.values[v] = struct{}{}
		}
	}
}

// TrackSecretString registers the secret values of a SecretString: the
// string values of its sensitive fields (rotator.IsSensitiveField) when
// it is a JSON object, else the whole string.
func (h *Hygiene) TrackSecretString(s string) {
	if !h.on.Load() {
		return
	}
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(s), &m) != nil || m == nil {
		h.Track(s)
		return
	}
	public := map[string]bool{}
	var secret []string
	for k, raw := range m {
		var v string
		if json.Unmarshal(raw, &v) != nil || v == "" {
			continue
		}
		if rotator.IsSensitiveField(k) {
			secret = append(secret, v)
		} else {
			public[v] = true
		}
	}
	for _, v := range secret {
		if !public[v] {
			h.Track(v)
		}
	}
}

// Capture hands text of a kind ("log", "error", "panic", "metric") to
// every active Hygiene. Tests call it for text they produce themselves
// (a command's output, a function's answer).
func Capture(kind, text string) {
	if text == "" {
		return
	}
	activeMu.Lock()
	hs := append([]*Hygiene(nil), active...)
	activeMu.Unlock()
	for _, h := range hs {
		h.add(kind, text)
	}
}

func (h *Hygiene) add(kind, text string) {
	n := strings.Count(strings.TrimRight(text, "\n"), "\n") + 1
	h.mu.Lock()
	h.texts = append(h.texts, captured{kind: kind, text: text})
	h.lines += n
	h.mu.Unlock()
}

// HygieneReport is what a scan found.
type HygieneReport struct {
	// Values is how many secret values were tracked.
	Values int
	// Lines is how many lines of captured text were scanned.
	Lines int
	// Leaks lists each appearance of a value: which kind of text, which
	// capture (in order), and the value's number, never the value.
	Leaks []Leak
}

// Leak is one secret value found in captured text.
type Leak struct {
	Kind    string
	Capture int
	Value   int
}

func (l Leak) String() string {
	return fmt.Sprintf("secret value #%d appears in captured %s text #%d", l.Value, l.Kind, l.Capture)
}

// Scan looks for every tracked value in every captured text.
func (h *Hygiene) Scan() HygieneReport {
	h.mu.Lock()
	values := make([]string, 0, len(h.values))
	for v := range h.values {
		values = append(values, v)
	}
	texts := append([]captured(nil), h.texts...)
	rep := HygieneReport{Values: len(values), Lines: h.lines}
	h.mu.Unlock()
	// Every value has 8 bytes or more: index them by their first 8, and
	// look at each position of the text once.
	var first [1 << 16]bool
	index := map[uint64][]int{}
	for i, v := range values {
		first[binary.LittleEndian.Uint16([]byte(v))] = true
		k := binary.LittleEndian.Uint64([]byte(v))
		index[k] = append(index[k], i)
	}
	for ci, c := range texts {
		seen := map[int]bool{}
		t := c.text
		for i := 0; i+8 <= len(t); i++ {
			if !first[uint16(t[i])|uint16(t[i+1])<<8] {
				continue
			}
			for _, vi := range index[binary.LittleEndian.Uint64([]byte(t[i:i+8]))] {
				if !seen[vi] && strings.HasPrefix(t[i:], values[vi]) {
					seen[vi] = true
					rep.Leaks = append(rep.Leaks, Leak{Kind: c.kind, Capture: ci + 1, Value: vi + 1})
				}
			}
		}
	}
	return rep
}

// strong is rotator's test for a value that cannot occur by chance: 12
// bytes or more, or 8 or more from at least three character classes.
func strong(v string) bool {
	if len(v) >= 12 {
		return true
	}
	if len(v) < 8 {
		return false
	}
	var classes [4]bool
	for _, c := range []byte(v) {
		switch {
		case c >= 'a' && c <= 'z':
			classes[0] = true
		case c >= 'A' && c <= 'Z':
			classes[1] = true
		case c >= '0' && c <= '9':
			classes[2] = true
		default:
			classes[3] = true
		}
	}
	n := 0
	for _, b := range classes {
		if b {
			n++
		}
	}
	return n >= 3
}

// captureStd sends what the test binary writes to os.Stdout and os.Stderr
// (a handler's default logger, a command's output, the test log) through
// Capture as "output" on its way to the real ones. The returned function
// puts them back and waits until everything was copied.
func captureStd() (restore func()) {
	type saved struct {
		f    **os.File
		orig *os.File
		w    *os.File
		done chan struct{}
	}
	var all []saved
	for _, f := range []**os.File{&os.Stdout, &os.Stderr} {
		r, w, err := os.Pipe()
		if err != nil {
			continue
		}
		s := saved{f: f, orig: *f, w: w, done: make(chan struct{})}
		go func() {
			defer close(s.done)
			_, _ = io.Copy(io.MultiWriter(s.orig, captureWriter("output")), r)
			r.Close()
		}()
		*f = w
		all = append(all, s)
	}
	return func() {
		for _, s := range all {
			*s.f = s.orig
			s.w.Close()
			<-s.done
		}
	}
}

// captureWriter hands each write to Capture as text of its kind.
type captureWriter string

func (w captureWriter) Write(p []byte) (int, error) {
	Capture(string(w), string(p))
	return len(p), nil
}

// HygieneRun is a test binary's run with its secret hygiene checked.
type HygieneRun struct{ m interface{ Run() int } }

// Hygienic wraps a test binary's run: Run sends the standard logger's
// output (and so log/slog's default) through the binary's Hygiene as well
// as to stderr, runs the tests, then scans everything captured for every
// value tracked. A leak fails the binary (exit code 1) with a line per
// leak that names the kind of text and the value's number, never the
// value. With ROTATOR_HYGIENE_DIR set, it writes its counts there. Use it
// in TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(rotatortest.Hygienic(m).Run()) }
func Hygienic(m *testing.M) HygieneRun { return HygieneRun{m: m} }

// Run runs the tests and the check; it returns the exit code.
func (r HygieneRun) Run() int {
	return runHygiene(r.m, binaryHygiene, os.Stderr, os.Getenv(EnvHygieneDir))
}

func runHygiene(m interface{ Run() int }, h *Hygiene, out io.Writer, dir string) int {
	h.start()
	defer h.Stop()
	restore := captureStd()
	prev := log.Writer()
	log.SetOutput(io.MultiWriter(prev, captureWriter("log")))
	code := func() (code int) {
		defer func() {
			if p := recover(); p != nil {
				Capture("panic", fmt.Sprint(p))
				code = 2
			}
		}()
		return m.Run()
	}()
	log.SetOutput(prev)
	restore()
	rep := h.Scan()
	for i, l := range rep.Leaks {
		if i == 20 {
			fmt.Fprintf(out, "rotatortest: hygiene: ... and %d more\n", len(rep.Leaks)-i)
			break
		}
		fmt.Fprintf(out, "rotatortest: hygiene: LEAK: %s\n", l)
	}
	fmt.Fprintf(out, "rotatortest: hygiene: %d values tracked, %d lines scanned, %d leaks\n", rep.Values, rep.Lines, len(rep.Leaks))
	if dir != "" {
		if err := writeHygieneReport(dir, rep); err != nil {
			fmt.Fprintf(out, "rotatortest: hygiene: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	if len(rep.Leaks) > 0 && code == 0 {
		code = 1
	}
	return code
}

// writeHygieneReport writes "<package dir> <values> <lines> <leaks>" to a
// file named after the package's directory relative to its module.
func writeHygieneReport(dir string, rep HygieneReport) error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	pkg := wd
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			if rel, err := filepath.Rel(d, wd); err == nil {
				pkg = filepath.ToSlash(rel)
			}
			break
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	name := strings.ReplaceAll(pkg, "/", "_") + ".hygiene"
	line := fmt.Sprintf("%s %d %d %d\n", pkg, rep.Values, rep.Lines, len(rep.Leaks))
	return os.WriteFile(filepath.Join(dir, name), []byte(line), 0o644)
}
