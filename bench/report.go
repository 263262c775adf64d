package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/rotatorkit/rotator/rotator/rotatortest"
	"time"
)

// Command is the command that produces results.json.
const Command = "make bench"

// The budget, from ARCHITECTURE.md's "Performance budget".
const (
	BudgetSMCalls        = 10         // at most, per full single-user rotation
	BudgetDBLogins       = 2          // at most, per full single-user rotation, normal path
	BudgetStartToReadyMs = 20.0       // under
	BudgetPeakRSSMiB     = 40.0       // under
	BudgetBootstrapBytes = 15_000_000 // under (15 MB)
	// Over the soak (SoakRotations rotations of one secret in one
	// process): memory is flat when the mean of the last quarter of the
	// samples is at most BudgetSoakGrowthPct above that of the first
	// quarter; connections are flat when their last quarter's mean is at
	// most BudgetSoakConnGrowth above the first's and, once the last
	// rotation's sessions have closed, the count is back to where it was
	// before the first rotation.
	BudgetSoakGrowthPct  = 10.0
	BudgetSoakConnGrowth = 0.5
	referenceRotationMs  = 140.0 // AWS's Python template, warm, here
	referenceStartMs     = 250.0 // AWS's Python template, start to ready, here
	mebibyte             = float64(1 << 20)
)

// Dist summarises samples in milliseconds.
type Dist struct {
	N      int     `json:"n"`
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	P95    float64 `json:"p95"`
	Max    float64 `json:"max"`
}

// Summarise returns the distribution of samples (nearest-rank percentiles).
func Summarise(samples []time.Duration) Dist {
	if len(samples) == 0 {
		return Dist{}
	}
	ms := make([]float64, len(samples))
	for i, d := range samples {
		ms[i] = float64(d) / float64(time.Millisecond)
	}
	sort.Float64s(ms)
	return Dist{N: len(ms), Min: round(ms[0]), Median: round(percentile(ms, 50)), P95: round(percentile(ms, 95)), Max: round(ms[len(ms)-1])}
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []float64, p float64) float64 {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

func round(v float64) float64 { return math.Round(v*100) / 100 }

// Machine describes where the numbers were taken.
type Machine struct {
	GOOS      string `json:"goos"`
	GOARCH    string `json:"goarch"`
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"go_version"`
	Postgres  string `json:"postgres"`
	// MySQL is the MariaDB/MySQL server the mysql-* functions ran against;
	// MySQL8 the MySQL 8.4 server of the dual-password function, or why
	// there was none.
	MySQL  string `json:"mysql,omitempty"`
	MySQL8 string `json:"mysql8,omitempty"`
}

// Check is one budget line.
type Check struct {
	Name     string  `json:"name"`
	Measured float64 `json:"measured"`
	Limit    float64 `json:"limit"`
	Unit     string  `json:"unit"`
	// AtMost is true for "at most Limit", false for "under Limit".
	AtMost bool `json:"at_most"`
	// NotMeasured: the count could not be taken here (a server whose log
	// is not ours); the line passes and the table says n/a.
	NotMeasured bool `json:"not_measured,omitempty"`
	Pass        bool `json:"pass"`
}

// Results is what results.json holds. The top-level numbers are those the
// budget is about; the rest say where they come from.
type Results struct {
	GeneratedAt string  `json:"generated_at"`
	Command     string  `json:"command"`
	Machine     Machine `json:"machine"`

	// Single-user rotation (the budget's subject).
	SMCallsPerRotation int            `json:"sm_calls_per_rotation"`
	SMCallsByOperation map[string]int `json:"sm_calls_by_operation"`
	StartToReadyMs     float64        `json:"start_to_ready_ms"`
	RotationMsMedian   float64        `json:"rotation_ms_median"`
	RotationMsP95      float64        `json:"rotation_ms_p95"`
	PeakRSSMiB         float64        `json:"peak_rss_mib"`
	BootstrapBytesMax  int64          `json:"bootstrap_bytes_max"`
	// DBLoginsPerRotation is -1 when the server's log is not readable.
	DBLoginsPerRotation float64 `json:"db_logins_per_rotation"`

	// Details.
	StartToReady  map[string]Dist           `json:"start_to_ready"`
	Rotation      map[string]Dist           `json:"rotation"`
	SMCalls       map[string]int            `json:"sm_calls"`
	SMCallsByFunc map[string]map[string]int `json:"sm_calls_by_function"`
	// SMCallChecks lists, by function, each call of one rotation in order
	// with the check it serves (CallCheck), so the count stays honest.
	SMCallChecks map[string][]string `json:"sm_call_checks"`
	DBLogins     map[string]float64  `json:"db_logins_by_function"`
	// StepMs is the median duration of each step inside the function
	// (from its metrics lines), by function and step.
	StepMs         map[string]map[string]float64 `json:"step_ms_median"`
	PeakRSSByFunc  map[string]float64            `json:"peak_rss_mib_by_function"`
	BootstrapBytes map[string]int64              `json:"bootstrap_bytes"`
	ZipBytes       map[string]int64              `json:"zip_bytes"`
	// NotMeasured says, by function, why its rotations were not measured
	// (its start to ready and size still are).
	NotMeasured map[string]string `json:"not_measured,omitempty"`
	// Soak is, by function, one secret rotated many times in a row in one
	// process: its memory and the server's open connections.
	Soak   map[string]Soak `json:"soak,omitempty"`
	Checks []Check         `json:"checks"`
	Pass   bool            `json:"pass"`
}

// Series summarises samples taken over a run: the first, the last, the
// largest, and the means of the first and the last quarter.
type Series struct {
	First             float64 `json:"first"`
	Last              float64 `json:"last"`
	Peak              float64 `json:"peak"`
	FirstQuartileMean float64 `json:"first_quartile_mean"`
	LastQuartileMean  float64 `json:"last_quartile_mean"`
}

// SeriesOf summarises samples (in the order taken).
func SeriesOf(samples []float64) Series {
	if len(samples) == 0 {
		return Series{}
	}
	q := max(1, len(samples)/4)
	mean := func(v []float64) float64 {
		var sum float64
		for _, x := range v {
			sum += x
		}
		return sum / float64(len(v))
	}
	return Series{
		First: round(samples[0]), Last: round(samples[len(samples)-1]), Peak: round(slices.Max(samples)),
		FirstQuartileMean: round(mean(samples[:q])), LastQuartileMean: round(mean(samples[len(samples)-q:])),
	}
}

// GrowthPct is how much the last quarter's mean exceeds the first's, in
// percent of the first's.
func (s Series) GrowthPct() float64 {
	if s.FirstQuartileMean == 0 {
		return 0
	}
	return round((s.LastQuartileMean - s.FirstQuartileMean) / s.FirstQuartileMean * 100)
}

// Soak is one secret rotated Rotations times in a row by one process
// (after WarmUp rotations),
// sampled after each rotation: the process's resident memory (VmRSS) and
// its anonymous part (RssAnon: the Go heap and stacks; the process's own
// heap statistics are not visible from outside it), and the client
// sessions open on the database server.
type Soak struct {
	// Rotations were sampled after WarmUp rotations that were not.
	Rotations int    `json:"rotations"`
	WarmUp    int    `json:"warm_up_rotations"`
	RSSMiB    Series `json:"rss_mib"`
	AnonMiB   Series `json:"rss_anon_mib"`
	// Connections are counted by the server (pg_stat_activity,
	// information_schema.PROCESSLIST), the sampling session excluded,
	// after each rotation once back at the baseline or after 500 ms (a
	// session the function closed ends on the server a moment later);
	// ConnectionsImmediatePeak is the largest count taken at once after a
	// rotation, sessions still ending included.
	Connections              Series `json:"connections"`
	ConnectionsImmediatePeak int    `json:"connections_immediate_peak"`
	// ConnectionsBaseline is the count before the first measured rotation
	// (the function idle), ConnectionsSettled the count once the last
	// rotation's sessions have had up to 5 s to close.
	ConnectionsBaseline int `json:"connections_baseline"`
	ConnectionsSettled  int `json:"connections_settled"`
}

// The functions whose budget lines apply per function: single user of
// each engine.
const (
	singleKey      = "postgres-single-user"
	mysqlSingleKey = "mysql-single-user"
)

// checkName names a per-function budget line: PostgreSQL single user's
// keeps the name it always had.
func checkName(what, fn string) string {
	if fn == singleKey {
		return what
	}
	return what + ", " + fn
}

// Evaluate fills Checks and Pass from the measurements.
func (r *Results) Evaluate() {
	r.Checks = []Check{
		{Name: "Secrets Manager calls per rotation", Measured: float64(r.SMCallsPerRotation), Limit: BudgetSMCalls, AtMost: true},
		{Name: "database logins per rotation", Measured: r.DBLoginsPerRotation, Limit: BudgetDBLogins, AtMost: true, NotMeasured: r.DBLoginsPerRotation < 0},
	}
	if n, ok := r.SMCalls[mysqlSingleKey]; ok {
		logins, ok := r.DBLogins[mysqlSingleKey]
		if !ok {
			logins = -1
		}
		r.Checks = append(r.Checks,
			Check{Name: checkName("Secrets Manager calls per rotation", mysqlSingleKey), Measured: float64(n), Limit: BudgetSMCalls, AtMost: true},
			Check{Name: checkName("database logins per rotation", mysqlSingleKey), Measured: logins, Limit: BudgetDBLogins, AtMost: true, NotMeasured: logins < 0})
	}
	r.Checks = append(r.Checks,
		Check{Name: "process start to ready (median)", Measured: r.StartToReadyMs, Limit: BudgetStartToReadyMs, Unit: "ms"},
		Check{Name: "peak RSS", Measured: r.PeakRSSMiB, Limit: BudgetPeakRSSMiB, Unit: "MiB"},
		Check{Name: "bootstrap size (largest)", Measured: float64(r.BootstrapBytesMax), Limit: BudgetBootstrapBytes, Unit: "bytes"},
	)
	for _, fn := range slices.Sorted(maps.Keys(r.Soak)) {
		s := r.Soak[fn]
		n := fmt.Sprintf(" over %d rotations", s.Rotations)
		r.Checks = append(r.Checks,
			Check{Name: "RSS growth" + n + ", " + fn, Measured: s.RSSMiB.GrowthPct(), Limit: BudgetSoakGrowthPct, Unit: "%", AtMost: true},
			Check{Name: "heap (RssAnon) growth" + n + ", " + fn, Measured: s.AnonMiB.GrowthPct(), Limit: BudgetSoakGrowthPct, Unit: "%", AtMost: true},
			Check{Name: "open connections growth" + n + ", " + fn, Measured: round(s.Connections.LastQuartileMean - s.Connections.FirstQuartileMean), Limit: BudgetSoakConnGrowth, AtMost: true},
			Check{Name: fmt.Sprintf("open connections above baseline after %d rotations, %s", s.Rotations, fn), Measured: float64(s.ConnectionsSettled - s.ConnectionsBaseline), Limit: 0, AtMost: true},
		)
	}
	r.Pass = true
	for i := range r.Checks {
		c := &r.Checks[i]
		if c.NotMeasured {
			c.Pass = true
			continue
		}
		if c.AtMost {
			c.Pass = c.Measured <= c.Limit
		} else {
			c.Pass = c.Measured < c.Limit
		}
		r.Pass = r.Pass && c.Pass
	}
}

// Failed lists the budget lines that failed.
func (r *Results) Failed() []string {
	var out []string
	for _, c := range r.Checks {
		if !c.Pass {
			out = append(out, fmt.Sprintf("%s: %s, budget %s", c.Name, formatValue(c.Measured, c.Unit), formatLimit(c)))
		}
	}
	return out
}

func formatValue(v float64, unit string) string {
	switch unit {
	case "bytes":
		return fmt.Sprintf("%.2f MB", v/1e6)
	case "":
		return fmt.Sprintf("%g", v)
	default:
		return fmt.Sprintf("%.1f %s", v, unit)
	}
}

func formatLimit(c Check) string {
	op := "<"
	if c.AtMost {
		op = "<="
	}
	if c.Unit == "bytes" {
		return fmt.Sprintf("%s %g MB", op, c.Limit/1e6)
	}
	if c.Unit == "" {
		return fmt.Sprintf("%s %g", op, c.Limit)
	}
	return fmt.Sprintf("%s %g %s", op, c.Limit, c.Unit)
}

// functionOrder is the order of the table's per-function lines.
var functionOrder = []string{singleKey, "postgres-alternating-users", mysqlSingleKey, "mysql-alternating-users", "mysql-dual-password"}

// functions returns the functions with measured or refused rotations,
// in functionOrder, then any other by name.
func (r *Results) functions() []string {
	seen := map[string]bool{}
	for fn := range r.SMCalls {
		seen[fn] = true
	}
	for fn := range r.NotMeasured {
		seen[fn] = true
	}
	var out []string
	for _, fn := range functionOrder {
		if seen[fn] {
			out = append(out, fn)
			delete(seen, fn)
		}
	}
	return append(out, slices.Sorted(maps.Keys(seen))...)
}

// WriteTable prints the results for a person.
func (r *Results) WriteTable(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "\nRotator performance budget (ARCHITECTURE.md): %s, %s %s/%s, %d CPUs, %s\n",
		r.Command, m.GoVersion, m.GOOS, m.GOARCH, m.CPUs, r.GeneratedAt)
	fmt.Fprintf(w, "real bootstraps under a local Lambda Runtime API; Secrets Manager: rotatortest (in-process, HTTP)\n")
	fmt.Fprintf(w, "database: postgres-*: %s\n", m.Postgres)
	if m.MySQL != "" {
		fmt.Fprintf(w, "          mysql-*: %s\n", m.MySQL)
	}
	if m.MySQL8 != "" {
		fmt.Fprintf(w, "          mysql-dual-password: %s\n", m.MySQL8)
	}
	fmt.Fprintln(w)
	const width = 56
	line := func(name, measured, budget, verdict string) {
		fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("  %-*s %-20s %-10s %s", width, name, measured, budget, verdict), " "))
	}
	note := func(format string, args ...any) { fmt.Fprintf(w, "      "+format+"\n", args...) }
	check := func(name string) (string, string) {
		for _, c := range r.Checks {
			if c.Name != name {
				continue
			}
			switch {
			case c.NotMeasured:
				return formatLimit(c), "n/a"
			case c.Pass:
				return formatLimit(c), "PASS"
			default:
				return formatLimit(c), "FAIL"
			}
		}
		return "", ""
	}
	fns := r.functions()

	line("metric", "measured", "budget", "")
	line(strings.Repeat("-", width), strings.Repeat("-", 20), strings.Repeat("-", 10), "----")
	for _, fn := range fns {
		if why, ok := r.NotMeasured[fn]; ok {
			line("SM calls, DB logins, rotation times, "+fn, "n/a", "", "")
			note("%s", why)
			continue
		}
		budget, verdict := check(checkName("Secrets Manager calls per rotation", fn))
		line("SM calls per rotation, "+fn, fmt.Sprint(r.SMCalls[fn]), budget, verdict)
		note("%s", formatOps(r.SMCallsByFunc[fn]))
		for i, c := range r.SMCallChecks[fn] {
			note("%2d. %s", i+1, c)
		}
	}
	for _, fn := range fns {
		if _, ok := r.NotMeasured[fn]; ok {
			continue
		}
		budget, verdict := check(checkName("database logins per rotation", fn))
		v, ok := r.DBLogins[fn]
		measured := "n/a (no server log)"
		if ok && v >= 0 {
			measured = fmt.Sprintf("%.2f", v)
		}
		line("DB logins per rotation, "+fn, measured, budget, verdict)
	}
	budget, verdict := check("process start to ready (median)")
	line("start to ready, median of worst function", fmt.Sprintf("%.1f ms", r.StartToReadyMs), budget, verdict)
	for _, fn := range slices.Sorted(maps.Keys(r.StartToReady)) {
		d := r.StartToReady[fn]
		note("%-34s median %.1f ms, p95 %.1f ms, n=%d", fn, d.Median, d.P95, d.N)
	}
	for _, fn := range fns {
		if _, ok := r.NotMeasured[fn]; ok {
			continue
		}
		d := r.Rotation[fn]
		line("warm rotation median, "+fn, fmt.Sprintf("%.1f ms", d.Median), "", "")
		line("warm rotation p95, "+fn, fmt.Sprintf("%.1f ms", d.P95), "", "")
		if steps := r.StepMs[fn]; len(steps) > 0 {
			var parts []string
			for _, st := range []string{"createSecret", "setSecret", "testSecret", "finishSecret"} {
				parts = append(parts, fmt.Sprintf("%s %.1f", st, steps[st]))
			}
			note("in the function, median ms: %s (n=%d rotations)", strings.Join(parts, ", "), d.N)
		}
	}
	budget, verdict = check("peak RSS")
	line("peak RSS, largest process", fmt.Sprintf("%.1f MiB", r.PeakRSSMiB), budget, verdict)
	for _, fn := range slices.Sorted(maps.Keys(r.PeakRSSByFunc)) {
		note("%-34s %.1f MiB after %d rotations", fn, r.PeakRSSByFunc[fn], r.Rotation[fn].N+1)
	}
	for _, fn := range slices.Sorted(maps.Keys(r.Soak)) {
		s := r.Soak[fn]
		n := fmt.Sprintf(" over %d rotations", s.Rotations)
		line("one secret rotated in a row, "+fn, fmt.Sprintf("%d rotations", s.Rotations), "", "")
		note("one process, sampled after each rotation, after %d warm-up rotations that were not", s.WarmUp)
		for _, c := range []struct {
			what   string
			series Series
			unit   string
			growth string
		}{
			{"RSS growth", s.RSSMiB, "MiB", fmt.Sprintf("%+.1f %%", s.RSSMiB.GrowthPct())},
			{"heap (RssAnon) growth", s.AnonMiB, "MiB", fmt.Sprintf("%+.1f %%", s.AnonMiB.GrowthPct())},
			{"open connections growth", s.Connections, "sessions", fmt.Sprintf("%+.2f", s.Connections.LastQuartileMean-s.Connections.FirstQuartileMean)},
		} {
			budget, verdict := check(c.what + n + ", " + fn)
			line(c.what+n+", "+fn, c.growth, budget, verdict)
			note("first %g, last %g, peak %g %s; quarter means: first %g, last %g", c.series.First, c.series.Last, c.series.Peak, c.unit, c.series.FirstQuartileMean, c.series.LastQuartileMean)
		}
		name := fmt.Sprintf("open connections above baseline after %d rotations, %s", s.Rotations, fn)
		budget, verdict := check(name)
		line(name, fmt.Sprint(s.ConnectionsSettled-s.ConnectionsBaseline), budget, verdict)
		note("before the first rotation %d, after the last (settled) %d; at most %d right after a rotation, sessions still ending included", s.ConnectionsBaseline, s.ConnectionsSettled, s.ConnectionsImmediatePeak)
	}
	budget, verdict = check("bootstrap size (largest)")
	line("bootstrap size, largest", formatValue(float64(r.BootstrapBytesMax), "bytes"), budget, verdict)
	for _, k := range slices.Sorted(maps.Keys(r.BootstrapBytes)) {
		note("%-34s %d bytes, zip %d bytes", k, r.BootstrapBytes[k], r.ZipBytes[k])
	}
	fmt.Fprintf(w, "\n  reference, AWS's Python template here: ~%.0f ms warm rotation, ~%.0f ms start to ready, 14 SM calls, 3 DB logins\n", referenceRotationMs, referenceStartMs)
	if r.Pass {
		fmt.Fprintln(w, "  budget: PASS")
	} else {
		fmt.Fprintf(w, "  budget: FAIL (%s)\n", strings.Join(r.Failed(), "; "))
	}
	fmt.Fprintln(w)
}

func formatOps(m map[string]int) string {
	var parts []string
	for _, op := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", op, m[op]))
	}
	return strings.Join(parts, ", ")
}

// WriteJSON writes the results to path, indented, ending in a newline.
func (r *Results) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// mib converts bytes to MiB, rounded to 0.01.
func mib(b int64) float64 { return round(float64(b) / mebibyte) }

// CallCheck says which check a rotation function's Secrets Manager call
// serves, from what the call named: the bench lists them so that every
// call in the budget is accounted for.
func CallCheck(c rotatortest.Call, arn, token string) string {
	switch c.Operation {
	case "DescribeSecret":
		return "DescribeSecret: rotation enabled, the token's stages, AWSCURRENT's version"
	case "PutSecretValue":
		return "PutSecretValue: store the pending value at the token (AWSPENDING, RotationToken)"
	case "UpdateSecretVersionStage":
		return "UpdateSecretVersionStage: move AWSCURRENT to the token"
	case "GetRandomPassword":
		return "GetRandomPassword: the new password (PASSWORD_SOURCE=api)"
	case "GetSecretValue":
		switch {
		case c.ARN != arn:
			return "GetSecretValue: another secret (the master)"
		case c.VersionStage == "AWSCURRENT":
			return "GetSecretValue(AWSCURRENT): the current value (to build the pending one, to log in)"
		case c.VersionStage == "AWSPREVIOUS":
			return "GetSecretValue(AWSPREVIOUS): the previous value (fallback login)"
		case c.VersionID == token && c.ErrorType == "ResourceNotFoundException":
			return "GetSecretValue(token): no value stored yet, so a retried createSecret never replaces one"
		case c.VersionID == token:
			return "GetSecretValue(token): the pending value, and the token still AWSPENDING"
		}
	}
	return c.Operation
}
