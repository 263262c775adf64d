package bench

import (
	"bytes"
	"encoding/json"
	"github.com/rotatorkit/rotator/rotator/rotatortest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSummarise(t *testing.T) {
	var s []time.Duration
	for i := 100; i >= 1; i-- { // 1..100 ms, unsorted
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	d := Summarise(s)
	if d.N != 100 || d.Min != 1 || d.Median != 50 || d.P95 != 95 || d.Max != 100 {
		t.Errorf("Summarise = %+v", d)
	}
	if d := Summarise(nil); d.N != 0 {
		t.Errorf("Summarise(nil) = %+v", d)
	}
	r := sample()
	r.DBLoginsPerRotation = -1 // not measurable (a DSN server): not a failure
	r.Evaluate()
	if !r.Pass {
		t.Errorf("an unmeasured line failed: %v", r.Failed())
	}
	if d := Summarise([]time.Duration{3 * time.Millisecond}); d.Median != 3 || d.P95 != 3 {
		t.Errorf("one sample: %+v", d)
	}
}

func sample() *Results {
	return &Results{
		GeneratedAt: "2026-01-01T00:00:00Z", Command: Command,
		Machine:            Machine{GOOS: "linux", GOARCH: "amd64", CPUs: 2, GoVersion: "go1.26", Postgres: "PostgreSQL 15"},
		SMCallsPerRotation: 10, SMCallsByOperation: map[string]int{"GetSecretValue": 5, "DescribeSecret": 3, "PutSecretValue": 1, "UpdateSecretVersionStage": 1},
		StartToReadyMs: 19.9, RotationMsMedian: 10, RotationMsP95: 12, PeakRSSMiB: 39.9, BootstrapBytesMax: 14_999_999, DBLoginsPerRotation: 2,
		StartToReady:   map[string]Dist{singleKey: {N: 20, Median: 19.9}},
		Rotation:       map[string]Dist{singleKey: {N: 60, Median: 10, P95: 12}},
		SMCalls:        map[string]int{singleKey: 10},
		SMCallsByFunc:  map[string]map[string]int{singleKey: {"GetSecretValue": 5, "DescribeSecret": 3, "PutSecretValue": 1, "UpdateSecretVersionStage": 1}},
		SMCallChecks:   map[string][]string{singleKey: {"DescribeSecret: rotation enabled, the token's stages, AWSCURRENT's version"}},
		DBLogins:       map[string]float64{singleKey: 2},
		BootstrapBytes: map[string]int64{"amd64/" + singleKey: 14_999_999},
		ZipBytes:       map[string]int64{"amd64/" + singleKey: 6_000_000},
	}
}

func TestEvaluateBoundaries(t *testing.T) {
	r := sample()
	r.Evaluate()
	if !r.Pass || len(r.Failed()) != 0 {
		t.Fatalf("at the limits the budget passes: %v", r.Failed())
	}
	r.SMCallsPerRotation, r.StartToReadyMs, r.PeakRSSMiB, r.BootstrapBytesMax, r.DBLoginsPerRotation = 11, 20, 40, 15_000_000, 3
	r.Evaluate()
	if r.Pass || len(r.Failed()) != 5 {
		t.Fatalf("over the limits every line fails: %v", r.Failed())
	}
	var buf bytes.Buffer
	r.WriteTable(&buf)
	if n := strings.Count(buf.String(), "FAIL"); n < 5 {
		t.Errorf("table shows %d FAIL:\n%s", n, buf.String())
	}
}

func TestResultsJSONKeys(t *testing.T) {
	r := sample()
	r.Evaluate()
	var buf bytes.Buffer
	r.WriteTable(&buf)
	for _, want := range []string{"make bench", "PASS", "SM calls per rotation", "GetSecretValue 5", "1. DescribeSecret: rotation enabled", "DB logins", "start to ready", "peak RSS", "bootstrap size"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, buf.String())
		}
	}
	path := filepath.Join(t.TempDir(), "results.json")
	if err := r.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"sm_calls_per_rotation", "start_to_ready_ms", "rotation_ms_median", "rotation_ms_p95", "peak_rss_mib", "bootstrap_bytes_max"} {
		if _, ok := m[k].(float64); !ok {
			t.Errorf("results.json: %s is %T, want a number", k, m[k])
		}
	}
}

// TestCommittedResults checks the committed results.json, when there is
// one, has the keys the issue asks for.
func TestCommittedResults(t *testing.T) {
	raw, err := os.ReadFile("results.json")
	if os.IsNotExist(err) {
		t.Skip("no results.json yet: run make bench")
	}
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"sm_calls_per_rotation", "start_to_ready_ms", "rotation_ms_median", "rotation_ms_p95", "peak_rss_mib", "bootstrap_bytes_max"} {
		if _, ok := m[k].(float64); !ok {
			t.Errorf("results.json: %s is %T, want a number", k, m[k])
		}
	}
}

// Every call of a rotation is named with the check it serves; the master
// secret's read is told from the rotated secret's.
func TestCallCheck(t *testing.T) {
	const arn, master, token = "arn:app", "arn:master", "tok"
	tests := []struct {
		call rotatortest.Call
		want string
	}{
		{rotatortest.Call{Operation: "DescribeSecret", ARN: arn}, "DescribeSecret: rotation enabled"},
		{rotatortest.Call{Operation: "GetSecretValue", ARN: arn, VersionID: token, ErrorType: "ResourceNotFoundException"}, "no value stored yet"},
		{rotatortest.Call{Operation: "GetSecretValue", ARN: arn, VersionID: token}, "the pending value"},
		{rotatortest.Call{Operation: "GetSecretValue", ARN: arn, VersionStage: "AWSCURRENT", VersionID: "v1"}, "the current value"},
		{rotatortest.Call{Operation: "GetSecretValue", ARN: arn, VersionStage: "AWSPREVIOUS"}, "the previous value"},
		{rotatortest.Call{Operation: "GetSecretValue", ARN: master, VersionStage: "AWSCURRENT"}, "the master"},
		{rotatortest.Call{Operation: "PutSecretValue", ARN: arn}, "store the pending value"},
		{rotatortest.Call{Operation: "UpdateSecretVersionStage", ARN: arn}, "move AWSCURRENT"},
	}
	for _, tt := range tests {
		if got := CallCheck(tt.call, arn, token); !strings.Contains(got, tt.want) {
			t.Errorf("%+v: %q, want it to say %q", tt.call, got, tt.want)
		}
	}
}

func TestSeriesOf(t *testing.T) {
	s := SeriesOf([]float64{10, 10, 11, 9, 12, 12, 12, 14})
	want := Series{First: 10, Last: 14, Peak: 14, FirstQuartileMean: 10, LastQuartileMean: 13}
	if s != want {
		t.Fatalf("SeriesOf = %+v, want %+v", s, want)
	}
	if g := s.GrowthPct(); g != 30 {
		t.Errorf("GrowthPct = %v, want 30", g)
	}
	if s := SeriesOf([]float64{5}); s.FirstQuartileMean != 5 || s.LastQuartileMean != 5 || s.GrowthPct() != 0 {
		t.Errorf("one sample: %+v", s)
	}
	if (Series{}).GrowthPct() != 0 {
		t.Error("empty series grows")
	}
}

// The soak's lines: memory growing more than 10 % between the first and
// the last quarter fails, as do connections that grow or stay above the
// baseline; flat ones pass.
func TestEvaluateSoak(t *testing.T) {
	flat := Soak{Rotations: 200, WarmUp: 25,
		RSSMiB:      SeriesOf([]float64{17, 17.2, 17.1, 17.3}),
		AnonMiB:     SeriesOf([]float64{7, 7.1, 7, 7.2}),
		Connections: SeriesOf([]float64{0, 1, 0, 0}), ConnectionsBaseline: 2, ConnectionsSettled: 2}
	tests := []struct {
		name   string
		change func(*Soak)
		failed string
	}{
		{"flat", func(*Soak) {}, ""},
		{"RSS grows", func(s *Soak) { s.RSSMiB = SeriesOf([]float64{17, 17, 19, 19}) }, "RSS growth over 200 rotations, f"},
		{"heap grows", func(s *Soak) { s.AnonMiB = SeriesOf([]float64{7, 7.5, 8, 8.5}) }, "heap (RssAnon) growth over 200 rotations, f"},
		{"connections grow", func(s *Soak) { s.Connections = SeriesOf([]float64{0, 1, 2, 3}) }, "open connections growth over 200 rotations, f"},
		{"a connection left open", func(s *Soak) { s.ConnectionsSettled = 3 }, "open connections above baseline after 200 rotations, f"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sample()
			s := flat
			tt.change(&s)
			r.Soak = map[string]Soak{"f": s}
			r.Evaluate()
			failed := r.Failed()
			if tt.failed == "" {
				if !r.Pass {
					t.Fatalf("failed: %v", failed)
				}
				return
			}
			if r.Pass || len(failed) != 1 || !strings.HasPrefix(failed[0], tt.failed+":") {
				t.Fatalf("failed = %q, want only %q", failed, tt.failed)
			}
			var buf bytes.Buffer
			r.WriteTable(&buf)
			if !strings.Contains(buf.String(), tt.failed) || !strings.Contains(buf.String(), "FAIL") {
				t.Errorf("table lacks the failed line:\n%s", buf.String())
			}
		})
	}
}

// mysql-single-user's calls and logins have budget lines of their own;
// a function whose rotations were not measured is listed with the reason.
func TestEvaluateMySQLAndNotMeasured(t *testing.T) {
	r := sample()
	r.SMCalls[mysqlSingleKey] = 11
	r.DBLogins[mysqlSingleKey] = 3
	r.NotMeasured = map[string]string{"mysql-dual-password": "not measured: MariaDB has no dual passwords"}
	r.Evaluate()
	failed := r.Failed()
	if r.Pass || len(failed) != 2 || !strings.Contains(failed[0], ", mysql-single-user") || !strings.Contains(failed[1], ", mysql-single-user") {
		t.Fatalf("failed = %q, want mysql-single-user's calls and logins", failed)
	}
	var buf bytes.Buffer
	r.WriteTable(&buf)
	for _, want := range []string{"SM calls per rotation, mysql-single-user", "DB logins per rotation, mysql-single-user", "mysql-dual-password", "MariaDB has no dual passwords"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, buf.String())
		}
	}
	delete(r.DBLogins, mysqlSingleKey) // a server whose log is not ours
	r.SMCalls[mysqlSingleKey] = 10
	r.Evaluate()
	if !r.Pass {
		t.Fatalf("an unmeasured login count failed: %v", r.Failed())
	}
}

func TestCountConnects(t *testing.T) {
	mariadb := "241201 12:00:00\t    5 Connect\tapp@127.0.0.1 on  using SSL/TLS\n" +
		"\t\t    5 Query\tSELECT 1\n\t\t    5 Quit\t\n" +
		"\t\t    6 Connect\tapp@127.0.0.1 as anonymous on \n" +
		"\t\t    6 Connect\tAccess denied for user 'app'@'127.0.0.1' (using password: YES)\n" +
		"\t\t    7 Query\tSELECT 'Connect\t'\n"
	if n := countConnects(mariadb); n != 2 {
		t.Errorf("MariaDB: %d connection attempts, want 2", n)
	}
	mysql := "2026-12-01T12:00:00.000000Z\t   12 Connect\troot@localhost on  using SSL/TLS\n" +
		"2026-12-01T12:00:00.000100Z\t   12 Query\tSELECT 1\n" +
		"2026-12-01T12:00:01.000000Z\t   13 Connect\tapp@127.0.0.1 on  using SSL/TLS\n"
	if n := countConnects(mysql); n != 2 {
		t.Errorf("MySQL: %d connection attempts, want 2", n)
	}
}

func TestParseProcStatus(t *testing.T) {
	m, err := parseProcStatus("Name:\tbootstrap\nVmHWM:\t   20000 kB\nVmRSS:\t   17000 kB\nRssAnon:\t    7000 kB\nRssFile:\t   10000 kB\n")
	if err != nil || m.rss != 17000*1024 || m.anon != 7000*1024 {
		t.Fatalf("parseProcStatus = %+v, %v", m, err)
	}
	for _, bad := range []string{"VmRSS:\t17000 kB\n", "VmRSS:\t17000 MB\nRssAnon:\t1 kB\n", "VmRSS:\tx kB\nRssAnon:\t1 kB\n"} {
		if _, err := parseProcStatus(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
