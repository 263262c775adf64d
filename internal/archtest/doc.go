// Package archtest checks the layer rules ARCHITECTURE.md states: what each
// layer may import, and that each Lambda function links only its own
// engine and strategy. It has tests only.
package archtest
