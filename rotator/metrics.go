package rotator

import (
	"context"
	"encoding/json"
	"io"
	"sync"
	"time"
)

// MetricsNamespace is the CloudWatch namespace of Rotator's metrics.
const MetricsNamespace = "Rotator"

// EMF writes one CloudWatch Embedded Metric Format line per step: namespace
// Rotator, dimensions function and step, metrics Duration (milliseconds),
// Success and Failure (counts, 0 or 1), plus the outcome and secret id as
// properties. In Lambda, a line written to stdout becomes the metrics with
// no API call and no extra permission.
type EMF struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time
}

var _ Observer = (*EMF)(nil)

// NewEMF returns an observer writing EMF lines to w.
func NewEMF(w io.Writer) *EMF { return &EMF{w: w, now: time.Now} }

type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

type emfDirective struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []emfMetric `json:"Metrics"`
}

type emfMeta struct {
	Timestamp         int64          `json:"Timestamp"`
	CloudWatchMetrics []emfDirective `json:"CloudWatchMetrics"`
}

type emfLine struct {
	AWS      emfMeta `json:"_aws"`
	Function string  `json:"function"`
	Step     string  `json:"step"`
	Duration float64 `json:"Duration"`
	Success  int     `json:"Success"`
	Failure  int     `json:"Failure"`
	Outcome  string  `json:"outcome"`
	SecretID string  `json:"secret_id"`
}

// StepDone writes the step's metrics line.
func (e *EMF) StepDone(_ context.Context, r StepReport) {
	line := emfLine{
		AWS: emfMeta{
			Timestamp: e.now().UnixMilli(),
			CloudWatchMetrics: []emfDirective{{
				Namespace:  MetricsNamespace,
				Dimensions: [][]string{{"function", "step"}},
				Metrics:    []emfMetric{{"Duration", "Milliseconds"}, {"Success", "Count"}, {"Failure", "Count"}},
			}},
		},
		Function: r.Function,
		Step:     string(r.Step),
		Duration: ms(r.Duration),
		Outcome:  r.Outcome,
		SecretID: r.SecretID,
	}
	if line.Function == "" {
		line.Function = "local"
	}
	if r.Outcome == "failure" {
		line.Failure = 1
	} else {
		line.Success = 1
	}
	b, err := json.Marshal(line)
	if err != nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, _ = e.w.Write(append(b, '\n'))
}
