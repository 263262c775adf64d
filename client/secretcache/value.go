package secretcache

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Value is one version of a secret as the cache holds it. Its secret parts
// are reachable only through [Value.SecretString] and [Value.SecretBinary]:
// printing a Value with fmt (any verb), logging it with slog or encoding it
// as JSON shows its name and version, never the value, so that a Value
// passed to a log call by mistake does not leak.
type Value struct {
	arn       string
	name      string
	versionID string
	stages    []string
	str       *string
	bin       []byte
	fetched   time.Time
	stale     bool
}

func newValue(out *secretsmanager.GetSecretValueOutput, fetched time.Time) Value {
	v := Value{
		arn:       aws.ToString(out.ARN),
		name:      aws.ToString(out.Name),
		versionID: aws.ToString(out.VersionId),
		stages:    slices.Clone(out.VersionStages),
		fetched:   fetched,
	}
	if out.SecretString != nil {
		s := *out.SecretString
		v.str = &s
	}
	if out.SecretBinary != nil {
		v.bin = slices.Clone(out.SecretBinary)
	}
	return v
}

// ARN is the secret's ARN.
func (v Value) ARN() string { return v.arn }

// Name is the secret's name.
func (v Value) Name() string { return v.name }

// VersionID is the id of the version this value is. Two reads that return
// the same VersionID return the same value: a version's value never
// changes in Secrets Manager.
func (v Value) VersionID() string { return v.versionID }

// Stages are the staging labels the version had when it was fetched.
func (v Value) Stages() []string { return slices.Clone(v.stages) }

// SecretString is the secret's string value ("" for a binary secret).
func (v Value) SecretString() string {
	if v.str == nil {
		return ""
	}
	return *v.str
}

// HasString reports whether the version holds a SecretString.
func (v Value) HasString() bool { return v.str != nil }

// SecretBinary is a copy of the secret's binary value (nil for a string
// secret).
func (v Value) SecretBinary() []byte { return slices.Clone(v.bin) }

// FetchedAt is when the cache received this value from Secrets Manager.
func (v Value) FetchedAt() time.Time { return v.fetched }

// Stale reports that the value is past its TTL: a read served it because
// Secrets Manager could not be reached (see [WithMaxStaleness]), or
// [Cache.Cached] returned it while its refresh was under way.
func (v Value) Stale() bool { return v.stale }

// IsZero reports whether v is the zero Value (what a failed read returns).
func (v Value) IsZero() bool { return v.versionID == "" && v.str == nil && v.bin == nil && v.arn == "" }

// String describes the value by its secret and version, never its value.
func (v Value) String() string {
	name := v.name
	if name == "" {
		name = v.arn
	}
	s := fmt.Sprintf("secret %s version %s %v value [REDACTED]", name, v.versionID, v.stages)
	if v.stale {
		s += " (stale)"
	}
	return s
}

// GoString is String: %#v must not print the value either.
func (v Value) GoString() string { return v.String() }

// Format prints String for every verb, so that no verb (%d, %x, ...) falls
// back to printing the struct's fields.
func (v Value) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, v.String()) }

// LogValue makes slog log the secret's name, version and stages only.
func (v Value) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("name", v.name),
		slog.String("version_id", v.versionID),
		slog.Any("stages", v.stages),
		slog.Bool("stale", v.stale),
	)
}

// MarshalJSON encodes what String shows, never the value.
func (v Value) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ARN       string `json:"arn"`
		Name      string `json:"name"`
		VersionID string `json:"version_id"`
		Value     string `json:"value"`
	}{v.arn, v.name, v.versionID, "[REDACTED]"})
}

var (
	_ fmt.Stringer   = Value{}
	_ fmt.GoStringer = Value{}
	_ fmt.Formatter  = Value{}
	_ slog.LogValuer = Value{}
)
