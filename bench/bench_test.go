package bench

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rotatorkit/rotator/internal/functest"
	"github.com/rotatorkit/rotator/internal/lambdabuild"
	"github.com/rotatorkit/rotator/internal/pgtest"
	"github.com/rotatorkit/rotator/rotator"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
)

var (
	resultsPath  = flag.String("bench.results", "results.json", "where BenchmarkBudget writes its results (relative to bench/)")
	rotations    = flag.Int("bench.rotations", 60, "warm rotations measured per function by BenchmarkBudget")
	starts       = flag.Int("bench.starts", 20, "process starts measured per function by BenchmarkBudget")
	allArches    = flag.Bool("bench.allarches", true, "BenchmarkBudget also builds the other Lambda architecture to report its sizes")
	functionsAll = []string{functest.SingleUser, functest.AlternatingUsers}
	// sizedOnly are the other functions/*, built for their sizes (every
	// function's is reported); their rotations are measured by the
	// integration and engine tests (MariaDB, vendor fakes), not here.
	sizedOnly = otherFunctions()
)

// otherFunctions lists functions/* but functionsAll: a function added to
// functions/ is sized without a change here.
func otherFunctions() []string {
	all, err := lambdabuild.Functions("..")
	if err != nil {
		panic(err)
	}
	var out []string
	for _, f := range all {
		if !slices.Contains(functionsAll, f) {
			out = append(out, f)
		}
	}
	return out
}

func TestMain(m *testing.M) { pgtest.Main(m) }

// rig is what a measurement runs against: PostgreSQL with TLS, whose CA
// the functions get through ROTATOR_PG_CA_BUNDLE, and rotatortest.
type rig struct {
	pg   *pgtest.Server
	sm   *rotatortest.Server
	env  []string
	bins map[string]string
}

func newRig(b *testing.B, bins map[string]string) *rig {
	b.Helper()
	pg := pgtest.Shared(b, pgtest.WithTLS())
	sm := rotatortest.NewServer()
	b.Cleanup(sm.Close)
	return &rig{pg: pg, sm: sm, env: []string{"ROTATOR_PG_CA_BUNDLE=" + pg.CAFile}, bins: bins}
}

// secretFor makes a database user (and for alternating users its master)
// and the secret the function rotates; it returns the secret's ARN.
func (r *rig) secretFor(b *testing.B, function string) string {
	b.Helper()
	user := pgtest.UniqueName("bench")
	pw := "pw-" + pgtest.RandomPassword(24)
	r.pg.CreateRole(b, user, pw, "LOGIN")
	sec := r.pg.Secret(user, pw)
	sec.Delete("sslrootcert") // verified through ROTATOR_PG_CA_BUNDLE, as deployed
	if function == functest.AlternatingUsers {
		master := pgtest.UniqueName("benchmaster")
		mpw := "pw-" + pgtest.RandomPassword(24)
		r.pg.CreateRole(b, master, mpw, "LOGIN", "CREATEROLE")
		msec := r.pg.Secret(master, mpw)
		msec.Delete("sslrootcert")
		sec.SetString(rotator.FieldMasterARN, r.sm.MustCreateSecret(b, pgtest.UniqueName("bench/master"), value(b, msec)))
	}
	return r.sm.MustCreateSecret(b, pgtest.UniqueName("bench/"+function), value(b, sec))
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
	bins := functest.Build(b, dist, host, functionsAll...)
	functest.Build(b, dist, host, sizedOnly...)
	arches := []string{host}
	if *allArches {
		for _, a := range lambdabuild.Arches {
			if a != host {
				functest.Build(b, dist, a, append(slices.Clone(functionsAll), sizedOnly...)...)
				arches = append(arches, a)
			}
		}
	}
	r := newRig(b, bins)

	res := &Results{
		GeneratedAt:    time.Now().UTC().Format(time.RFC3339),
		Command:        Command,
		Machine:        Machine{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPUs: runtime.NumCPU(), GoVersion: runtime.Version()},
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
	}
	// Log every connection, to count the function's logins. Only on a
	// server started for this run: a DSN's server is not ours to change.
	logins := r.pg.Mode != pgtest.ModeDSN
	if logins {
		r.pg.Exec(b, "ALTER SYSTEM SET log_connections = on")
		r.pg.Exec(b, "SELECT pg_reload_conf()")
	}
	var version string
	if err := r.pg.Admin(b).QueryRow(context.Background(), "SHOW server_version").Scan(&version); err != nil {
		b.Fatal(err)
	}
	res.Machine.Postgres = fmt.Sprintf("PostgreSQL %s (%s, 127.0.0.1, TLS verify-full)", version, r.pg.Mode)

	// Sizes of what `make build` ships.
	for _, a := range arches {
		for _, fn := range append(slices.Clone(functionsAll), sizedOnly...) {
			k := a + "/" + fn
			res.BootstrapBytes[k] = size(b, filepath.Join(dist, a, fn, lambdabuild.BootstrapName))
			res.ZipBytes[k] = size(b, filepath.Join(dist, a, fn+".zip"))
			res.BootstrapBytesMax = max(res.BootstrapBytesMax, res.BootstrapBytes[k])
		}
	}

	var peak int64
	for _, fn := range functionsAll {
		// Start to ready: a fresh process each time, after one start to
		// warm the page cache.
		var samples []time.Duration
		for i := range *starts + 1 {
			f := functest.Start(b, bins[fn], "bench-start-"+fn, r.sm, functest.Options{Env: r.env})
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

		// Warm rotations in one process, as Lambda reuses an environment.
		f := functest.Start(b, bins[fn], "bench-"+fn, r.sm, functest.Options{Env: r.env})
		arn := r.secretFor(b, fn)
		rotate(b, f, r.sm, arn) // warm-up: first connection, first TLS handshake
		outFrom := len(f.Process.Output())
		logFrom := 0
		if logins {
			logFrom = len(r.pg.ReadLog(b))
		}
		var durations []time.Duration
		var maxCalls int
		var byOp map[string]int
		var checks []string
		for range *rotations {
			d, calls, token := rotate(b, f, r.sm, arn)
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
			// Every connection attempt, failed ones included: nothing
			// else connects while the rotations run.
			n := strings.Count(r.pg.ReadLog(b)[logFrom:], "connection received:")
			res.DBLogins[fn] = round(float64(n) / float64(*rotations))
		}
		res.StepMs[fn] = stepMedians(f.Process.Output()[outFrom:])
		_ = f.Process.Stop(5 * time.Second)
		rss, err := f.Process.PeakRSS()
		if err != nil {
			b.Fatal(err)
		}
		peak = max(peak, rss)
		res.PeakRSSByFunc[fn] = mib(rss)
		res.Rotation[fn] = Summarise(durations)
		res.SMCalls[fn] = maxCalls
		res.SMCallsByFunc[fn] = byOp
		res.SMCallChecks[fn] = checks
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
	for _, fn := range functionsAll {
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
