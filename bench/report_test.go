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
