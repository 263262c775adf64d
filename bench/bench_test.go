package bench

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rotatorkit/rotator/internal/functest"
	"github.com/rotatorkit/rotator/internal/lambdabuild"
	"github.com/rotatorkit/rotator/internal/mariadbtest"
	"github.com/rotatorkit/rotator/internal/pgtest"
	"github.com/rotatorkit/rotator/internal/testmain"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

var (
	resultsPath = flag.String("bench.results", "results.json", "where BenchmarkBudget writes its results (relative to bench/)")
	rotations   = flag.Int("bench.rotations", 60, "warm rotations measured per function by BenchmarkBudget")
	starts      = flag.Int("bench.starts", 20, "process starts measured per function by BenchmarkBudget")
	soak        = flag.Int("bench.soak", 200, "rotations in a row of one secret, for the memory and connection samples (0: none)")
	soakWarmUp  = flag.Int("bench.soakwarmup", 25, "rotations before the soak's samples: the heap grows to its steady size in about 15 here")
	allArches   = flag.Bool("bench.allarches", true, "BenchmarkBudget also builds the other Lambda architecture to report its sizes")
)

// The functions measured, by engine.
const (
	mysqlSingle      = mysqlSingleKey
	mysqlAlternating = "mysql-alternating-users"
	mysqlDual        = "mysql-dual-password"
)

// sizedOnly lists the functions/* measured elsewhere (the API-key
// functions: their rotations run against vendor fakes in the engine
// tests): built here for their sizes only, so a function added to
// functions/ is sized without a change here.
func sizedOnly(measured []string) []string {
	all, err := lambdabuild.Functions("..")
	if err != nil {
		panic(err)
	}
	var out []string
	for _, f := range all {
		if !slices.Contains(measured, f) {
			out = append(out, f)
		}
	}
	return out
}

var (
	pgFunctions    = []string{functest.SingleUser, functest.AlternatingUsers}
	mysqlFunctions = []string{mysqlSingle, mysqlAlternating, mysqlDual}
	// soaked are the functions rotated *soak times in a row.
	soaked = []string{functest.SingleUser, mysqlSingle}
)

func TestMain(m *testing.M) {
	stopPG, stopMy := pgtest.Activate(), mariadbtest.Activate()
	testmain.Run(rotatortest.Hygienic(m), "bench", func() { stopPG(); stopMy() })
}

// rig is what BenchmarkLambdaWarmRotation runs against.
type rig struct {
	pg   *pgTarget
	sm   *rotatortest.Server
	env  []string
	bins map[string]string
}

func newRig(b *testing.B, bins map[string]string) *rig {
	b.Helper()
	pg := newPGTarget(b)
	sm := rotatortest.NewServer()
	b.Cleanup(sm.Close)
	return &rig{pg: pg, sm: sm, env: pg.env(), bins: bins}
}

func (r *rig) secretFor(b *testing.B, function string) string {
	return r.pg.secretFor(b, r.sm, function)
}

func value(b *testing.B, s *rotator.Secret) string {
	v, err := s.Value()
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// rotate runs one rotation and returns its wall time and the calls the
// function made.
func rotate(b *testing.B, f *functest.Function, sm *rotatortest.Server, arn string) (time.Duration, []rotatortest.Call, string) {
	start := time.Now()
	o, calls := f.Rotate(b, sm, arn)
	d := time.Since(start)
	if !o.Succeeded {
		b.Fatalf("rotation failed: %v\n%s", o.Err, f.Process.Output())
	}
	return d, functest.FunctionCalls(calls), o.Token
}

// BenchmarkBudget measures everything ARCHITECTURE.md budgets, in one run, and
// reports it (make bench). Run it with -benchtime 1x.
func BenchmarkBudget(b *testing.B) {
	host := lambdabuild.HostArch()
	dist := b.TempDir()
	all := append(slices.Clone(pgFunctions), mysqlFunctions...)
	sized := append(slices.Clone(all), sizedOnly(all)...)
	bins := functest.Build(b, dist, host, sized...)
	arches := []string{host}
	if *allArches {
		for _, a := range lambdabuild.Arches {
			if a != host {
				functest.Build(b, dist, a, sized...)
				arches = append(arches, a)
			}
		}
	}
	sm := rotatortest.NewServer()
	b.Cleanup(sm.Close)
	pg := newPGTarget(b)
	my := newMyTarget(b, mariadbtest.Shared(b, mariadbtest.WithTLS()))
	targets := map[string]target{}
	for _, fn := range pgFunctions {
		targets[fn] = pg
	}
	for _, fn := range mysqlFunctions {
		targets[fn] = my
	}

	res := &Results{
		GeneratedAt:    time.Now().UTC().Format(time.RFC3339),
		Command:        Command,
		Machine:        Machine{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Postgres: pg.describe(), MySQL: my.describe()},
		StartToReady:   map[string]Dist{},
		Rotation:       map[string]Dist{},
		SMCalls:        map[string]int{},
		SMCallsByFunc:  map[string]map[string]int{},
		SMCallChecks:   map[string][]string{},
		PeakRSSByFunc:  map[string]float64{},
		BootstrapBytes: map[string]int64{},
		ZipBytes:       map[string]int64{},
		DBLogins:       map[string]float64{},
		StepMs:         map[string]map[string]float64{},
		NotMeasured:    map[string]string{},
		Soak:           map[string]Soak{},
	}
	// Dual passwords need MySQL 8: the MySQL 8.4 container where a Docker
	// engine has the image, else the table says why not.
	if why := my.unsupported(mysqlDual); why != "" {
		if db8, skip := mariadbtest.TryMySQL8(b, mariadbtest.WithTLS()); db8 != nil {
			my8 := newMyTarget(b, db8)
			targets[mysqlDual] = my8
			res.Machine.MySQL8 = my8.describe()
		} else {
			res.NotMeasured[mysqlDual] = why + "; MySQL 8.4: " + skip
			res.Machine.MySQL8 = skip
		}
	}

	// Sizes of what `make build` ships.
	for _, a := range arches {
		for _, fn := range sized {
			k := a + "/" + fn
			res.BootstrapBytes[k] = size(b, filepath.Join(dist, a, fn, lambdabuild.BootstrapName))
			res.ZipBytes[k] = size(b, filepath.Join(dist, a, fn+".zip"))
			res.BootstrapBytesMax = max(res.BootstrapBytesMax, res.BootstrapBytes[k])
		}
	}

	var peak int64
	for _, fn := range all {
		tg := targets[fn]
		// Start to ready: a fresh process each time, after one start to
		// warm the page cache.
		var samples []time.Duration
		for i := range *starts + 1 {
			f := functest.Start(b, bins[fn], "bench-start-"+fn, sm, functest.Options{Env: tg.env()})
			if i > 0 {
				samples = append(samples, f.StartToReady)
			}
			_ = f.Process.Stop(5 * time.Second)
			_ = f.Runtime.Close()
			if rss, err := f.Process.PeakRSS(); err == nil {
				peak = max(peak, rss)
			}
		}
		res.StartToReady[fn] = Summarise(samples)
		res.StartToReadyMs = max(res.StartToReadyMs, res.StartToReady[fn].Median)
		if _, ok := res.NotMeasured[fn]; ok {
			continue
		}
		peak = max(peak, measureRotations(b, res, fn, bins[fn], tg, sm))
	}
	if *soak > 0 {
		for _, fn := range soaked {
			s, rss := soakRotations(b, fn, bins[fn], targets[fn], sm, *soak)
			res.Soak[fn] = s
			peak = max(peak, rss)
		}
	}
	single := res.Rotation[functest.SingleUser]
	res.RotationMsMedian, res.RotationMsP95 = single.Median, single.P95
	res.SMCallsPerRotation = res.SMCalls[functest.SingleUser]
	res.SMCallsByOperation = res.SMCallsByFunc[functest.SingleUser]
	res.DBLoginsPerRotation = res.DBLogins[functest.SingleUser]
	res.PeakRSSMiB = mib(peak)
	res.Evaluate()

	res.WriteTable(os.Stdout)
	if err := res.WriteJSON(*resultsPath); err != nil {
		b.Fatal(err)
	}
	abs, _ := filepath.Abs(*resultsPath)
	fmt.Printf("wrote %s\n", abs)
	b.ReportMetric(float64(res.SMCallsPerRotation), "sm-calls/rotation")
	b.ReportMetric(res.StartToReadyMs, "ms-start-to-ready")
	b.ReportMetric(res.RotationMsMedian, "ms-rotation-median")
	b.ReportMetric(res.RotationMsP95, "ms-rotation-p95")
	b.ReportMetric(res.PeakRSSMiB, "MiB-peak-rss")
	b.ReportMetric(float64(res.BootstrapBytesMax), "bootstrap-bytes-max")
	b.ReportMetric(res.DBLoginsPerRotation, "db-logins/rotation")
	if !res.Pass {
		b.Fatalf("performance budget exceeded: %v", res.Failed())
	}
}

// measureRotations runs *rotations warm rotations of one secret through
// one process of fn, as Lambda reuses an environment, and records their
// times, Secrets Manager calls and database logins (counted by the
// server). It returns the process's peak RSS.
func measureRotations(b *testing.B, res *Results, fn, bin string, tg target, sm *rotatortest.Server) int64 {
	b.Helper()
	f := functest.Start(b, bin, "bench-"+fn, sm, functest.Options{Env: tg.env()})
	arn := tg.secretFor(b, sm, fn)
	rotate(b, f, sm, arn) // warm-up: first connection, first TLS handshake
	outFrom := len(f.Process.Output())
	// Nothing else connects to the server from here to the count: the
	// users were made before, and the connection samples use a session
	// opened before.
	mark, logins := tg.loginMark(b)
	var durations []time.Duration
	var maxCalls int
	var byOp map[string]int
	var checks []string
	for range *rotations {
		d, calls, token := rotate(b, f, sm, arn)
		durations = append(durations, d)
		if len(calls) >= maxCalls {
			maxCalls, byOp = len(calls), functest.CountByOperation(calls)
			checks = checks[:0]
			for _, c := range calls {
				checks = append(checks, CallCheck(c, arn, token))
			}
		}
	}
	res.DBLogins[fn] = -1
	if logins {
		// Every connection attempt, failed ones included.
		res.DBLogins[fn] = round(float64(tg.loginsSince(b, mark)) / float64(*rotations))
	}
	res.StepMs[fn] = stepMedians(f.Process.Output()[outFrom:])
	_ = f.Process.Stop(5 * time.Second)
	rss, err := f.Process.PeakRSS()
	if err != nil {
		b.Fatal(err)
	}
	res.PeakRSSByFunc[fn] = mib(rss)
	res.Rotation[fn] = Summarise(durations)
	res.SMCalls[fn] = maxCalls
	res.SMCallsByFunc[fn] = byOp
	res.SMCallChecks[fn] = checks
	return rss
}

// soakRotations rotates one secret n times in a row through one process of
// fn and samples, after each rotation, the process's memory (from /proc)
// and the sessions open on the server (counted by the server). It returns
// the samples' summary and the process's peak RSS.
func soakRotations(b *testing.B, fn, bin string, tg target, sm *rotatortest.Server, n int) (Soak, int64) {
	b.Helper()
	f := functest.Start(b, bin, "bench-soak-"+fn, sm, functest.Options{Env: tg.env()})
	arn := tg.secretFor(b, sm, fn)
	// Before the samples, the Go heap grows to its steady size (from 3 to
	// 7 MiB of RssAnon over about 15 rotations here): a ramp that is not
	// a leak.
	for range max(1, *soakWarmUp) {
		rotate(b, f, sm, arn)
	}
	s := Soak{Rotations: n, WarmUp: max(1, *soakWarmUp), ConnectionsBaseline: settledConnections(b, tg, -1, 5*time.Second)}
	var rss, anon, conns []float64
	pid := f.Process.Pid()
	for range n {
		rotate(b, f, sm, arn)
		m, err := readProcMemory(pid)
		if err != nil {
			b.Fatal(err)
		}
		rss = append(rss, float64(m.rss)/mebibyte)
		anon = append(anon, float64(m.anon)/mebibyte)
		// A session the function closed ends on the server a moment
		// later (sooner or later on a busy machine): the sample is the
		// count once it is back to the baseline, or after 500 ms. A
		// session left open never gets there and shows as growth.
		s.ConnectionsImmediatePeak = max(s.ConnectionsImmediatePeak, tg.connections(b))
		conns = append(conns, float64(settledConnections(b, tg, s.ConnectionsBaseline, 500*time.Millisecond)))
	}
	s.ConnectionsSettled = settledConnections(b, tg, s.ConnectionsBaseline, 5*time.Second)
	s.RSSMiB, s.AnonMiB, s.Connections = SeriesOf(rss), SeriesOf(anon), SeriesOf(conns)

	_ = f.Process.Stop(5 * time.Second)
	peak, err := f.Process.PeakRSS()
	if err != nil {
		b.Fatal(err)
	}
	return s, peak
}

// settledConnections waits up to timeout for the server's session count
// to reach want (sessions a client closed end a moment later on the
// server) and returns the last count; want < 0 waits for two equal counts
// in a row.
func settledConnections(b *testing.B, tg target, want int, timeout time.Duration) int {
	b.Helper()
	deadline := time.Now().Add(timeout)
	last := tg.connections(b)
	if want >= 0 && last <= want {
		return last
	}
	for time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		n := tg.connections(b)
		if (want >= 0 && n <= want) || (want < 0 && n == last) {
			return n
		}
		last = n
	}
	return last
}

// procMemory is a process's resident memory, in bytes: all of it (VmRSS)
// and its anonymous part (RssAnon: heap and stacks).
type procMemory struct{ rss, anon int64 }

func readProcMemory(pid int) (procMemory, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return procMemory{}, err
	}
	return parseProcStatus(string(raw))
}

// parseProcStatus reads VmRSS and RssAnon from /proc/<pid>/status.
func parseProcStatus(status string) (procMemory, error) {
	var m procMemory
	found := 0
	for _, ln := range strings.Split(status, "\n") {
		name, rest, ok := strings.Cut(ln, ":")
		if !ok || (name != "VmRSS" && name != "RssAnon") {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return m, fmt.Errorf("unexpected /proc status line %q", ln)
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return m, fmt.Errorf("/proc status line %q: %w", ln, err)
		}
		if name == "VmRSS" {
			m.rss = kb * 1024
		} else {
			m.anon = kb * 1024
		}
		found++
	}
	if found != 2 {
		return m, errors.New("no VmRSS and RssAnon in /proc status")
	}
	return m, nil
}

// stepMedians reads the function's EMF lines (one per step) and returns
// the median Duration of each step, in milliseconds.
func stepMedians(output string) map[string]float64 {
	by := map[string][]time.Duration{}
	for _, ln := range strings.Split(output, "\n") {
		if !strings.Contains(ln, `"_aws"`) {
			continue
		}
		var m struct {
			Step     string  `json:"step"`
			Duration float64 `json:"Duration"`
		}
		if json.Unmarshal([]byte(ln), &m) == nil && m.Step != "" {
			by[m.Step] = append(by[m.Step], time.Duration(m.Duration*float64(time.Millisecond)))
		}
	}
	out := map[string]float64{}
	for step, ds := range by {
		out[step] = Summarise(ds).Median
	}
	return out
}

func size(b *testing.B, path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return st.Size()
}

// BenchmarkLambdaWarmRotation: one full single-user rotation through a warm
// bootstrap, per op.
func BenchmarkLambdaWarmRotation(b *testing.B) {
	for _, fn := range pgFunctions {
		b.Run(fn, func(b *testing.B) {
			bins := functest.Build(b, b.TempDir(), "", fn)
			r := newRig(b, bins)
			f := functest.Start(b, bins[fn], "bench-"+fn, r.sm, functest.Options{Env: r.env})
			arn := r.secretFor(b, fn)
			rotate(b, f, r.sm, arn)
			calls := 0
			for b.Loop() {
				_, c, _ := rotate(b, f, r.sm, arn)
				calls += len(c)
			}
			b.ReportMetric(float64(calls)/float64(b.N), "sm-calls/op")
			_ = f.Process.Stop(5 * time.Second)
			if rss, err := f.Process.PeakRSS(); err == nil {
				b.ReportMetric(float64(rss)/mebibyte, "MiB-peak-rss")
			}
		})
	}
}

// BenchmarkLambdaStartToReady: exec of a bootstrap to its first GET
// .../invocation/next, per op (ns/op includes stopping the process; the
// ms-to-ready metric does not).
func BenchmarkLambdaStartToReady(b *testing.B) {
	bins := functest.Build(b, b.TempDir(), "", functest.SingleUser)
	sm := rotatortest.NewServer()
	b.Cleanup(sm.Close)
	var samples []time.Duration
	for b.Loop() {
		f := functest.Start(b, bins[functest.SingleUser], "bench-start", sm, functest.Options{})
		samples = append(samples, f.StartToReady)
		_ = f.Process.Stop(5 * time.Second)
		_ = f.Runtime.Close()
	}
	d := Summarise(samples)
	b.ReportMetric(d.Median, "ms-to-ready-median")
	b.ReportMetric(d.P95, "ms-to-ready-p95")
}
