package rotator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Well-known fields of the secret JSON, named as AWS's RDS secrets name them.
const (
	FieldEngine    = "engine"
	FieldHost      = "host"
	FieldPort      = "port"
	FieldUsername  = "username"
	FieldPassword  = "password"
	FieldDBName    = "dbname"
	FieldMasterARN = "masterarn"
)

// Secret is one secret value: the raw JSON object, with typed accessors.
//
// Fields the project does not know are kept as the exact bytes they arrived
// as, so a rotation carries them over unchanged.
type Secret struct {
	fields map[string]json.RawMessage
}

// ParseSecret parses a secret string. It must be a JSON object.
// The error never quotes the input, which may hold a password.
func ParseSecret(s string) (*Secret, error) {
	var m map[string]json.RawMessage
	dec := json.NewDecoder(strings.NewReader(s))
	if err := dec.Decode(&m); err != nil {
		var se *json.SyntaxError
		if asSyntax(err, &se) {
			return nil, fmt.Errorf("%w: not valid JSON (syntax error at byte %d)", ErrMalformedSecret, se.Offset)
		}
		return nil, fmt.Errorf("%w: not a JSON object", ErrMalformedSecret)
	}
	if m == nil {
		return nil, fmt.Errorf("%w: not a JSON object", ErrMalformedSecret)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrMalformedSecret)
	}
	return &Secret{fields: m}, nil
}

func asSyntax(err error, target **json.SyntaxError) bool {
	se, ok := err.(*json.SyntaxError)
	if ok {
		*target = se
	}
	return ok
}

// NewSecret returns a secret with the given string fields.
func NewSecret(fields map[string]string) *Secret {
	s := &Secret{fields: make(map[string]json.RawMessage, len(fields))}
	for k, v := range fields {
		s.SetString(k, v)
	}
	return s
}

// Clone returns a deep copy.
func (s *Secret) Clone() *Secret {
	c := &Secret{fields: make(map[string]json.RawMessage, len(s.fields))}
	for k, v := range s.fields {
		c.fields[k] = append(json.RawMessage(nil), v...)
	}
	return c
}

// Has reports whether the field is present (even as null).
func (s *Secret) Has(field string) bool {
	_, ok := s.fields[field]
	return ok
}

// Raw returns the field's JSON bytes as stored.
func (s *Secret) Raw(field string) (json.RawMessage, bool) {
	v, ok := s.fields[field]
	return v, ok
}

// Fields returns the field names, sorted.
func (s *Secret) Fields() []string {
	names := make([]string, 0, len(s.fields))
	for k := range s.fields {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// String returns a string field; ok is false when it is missing, null or
// not a JSON string.
func (s *Secret) String(field string) (v string, ok bool) {
	raw, present := s.fields[field]
	if !present {
		return "", false
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", false
	}
	return v, true
}

// Optional returns a string field that may be missing or null (set is
// false then), or an error naming the field when it is not a JSON string.
func (s *Secret) Optional(field string) (v string, set bool, err error) {
	raw, present := s.fields[field]
	if !present || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return "", false, nil
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", false, &FieldError{Field: field, Reason: "must be a JSON string", Err: ErrInvalidField}
	}
	return v, true, nil
}

// Require returns a non-empty string field, or an error naming the field.
func (s *Secret) Require(field string) (string, error) {
	raw, present := s.fields[field]
	if !present || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return "", &FieldError{Field: field, Reason: "is missing", Err: ErrMissingField}
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", &FieldError{Field: field, Reason: "must be a JSON string", Err: ErrInvalidField}
	}
	if v == "" {
		return "", &FieldError{Field: field, Reason: "is empty", Err: ErrMissingField}
	}
	return v, nil
}

// Int returns an integer field given as a JSON number or a numeric string
// (AWS's own secrets use both for "port"), or def when it is missing.
func (s *Secret) Int(field string, def int) (int, error) {
	raw, present := s.fields[field]
	if !present || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return def, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		i, err := strconv.Atoi(n.String())
		if err != nil {
			return 0, &FieldError{Field: field, Reason: "must be a whole number", Err: ErrInvalidField}
		}
		return i, nil
	}
	var str string
	if err := json.Unmarshal(raw, &str); err == nil {
		i, err := strconv.Atoi(strings.TrimSpace(str))
		if err != nil {
			return 0, &FieldError{Field: field, Reason: "must be a whole number", Err: ErrInvalidField}
		}
		return i, nil
	}
	return 0, &FieldError{Field: field, Reason: "must be a whole number", Err: ErrInvalidField}
}

// Bool returns a boolean field given as a JSON bool or as a string
// ("true", "false", "1", "0", "yes", "no"); ok is false when it is missing.
func (s *Secret) Bool(field string) (v, ok bool, err error) {
	raw, present := s.fields[field]
	if !present || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return false, false, nil
	}
	if err := json.Unmarshal(raw, &v); err == nil {
		return v, true, nil
	}
	var str string
	if err := json.Unmarshal(raw, &str); err == nil {
		if b, perr := ParseBool(str); perr == nil {
			return b, true, nil
		}
	}
	return false, false, &FieldError{Field: field, Reason: "must be true or false", Err: ErrInvalidField}
}

// SetString sets a string field.
func (s *Secret) SetString(field, v string) {
	b, _ := json.Marshal(v) // a string always marshals
	if s.fields == nil {
		s.fields = map[string]json.RawMessage{}
	}
	s.fields[field] = b
}

// Delete removes a field.
func (s *Secret) Delete(field string) { delete(s.fields, field) }

// MarshalJSON writes the object with every field's original bytes.
func (s *Secret) MarshalJSON() ([]byte, error) {
	if s == nil || s.fields == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(s.fields)
}

// Value returns the secret string to store.
func (s *Secret) Value() (string, error) {
	b, err := s.MarshalJSON()
	if err != nil {
		return "", fmt.Errorf("encode secret: %w", ErrMalformedSecret)
	}
	return string(b), nil
}

// Username is the "username" field, or "".
func (s *Secret) Username() string { v, _ := s.String(FieldUsername); return v }

// Password is the "password" field, or "".
func (s *Secret) Password() string { v, _ := s.String(FieldPassword); return v }

// Engine is the "engine" field, or "".
func (s *Secret) Engine() string { v, _ := s.String(FieldEngine); return v }

// Host is the "host" field, or "".
func (s *Secret) Host() string { v, _ := s.String(FieldHost); return v }

// String values of fields whose names say they hold a credential. The
// scrubber removes these from every error and log line.
func (s *Secret) sensitiveValues() []string {
	if s == nil {
		return nil
	}
	var out []string
	for k, raw := range s.fields {
		if !IsSensitiveField(k) {
			continue
		}
		var v string
		if json.Unmarshal(raw, &v) == nil && v != "" {
			out = append(out, v)
		}
	}
	return out
}

// publicValues returns the string values of the fields that are not
// sensitive (user and host names, ARNs): text the scrubber must not cut a
// short secret value out of.
func (s *Secret) publicValues() []string {
	if s == nil {
		return nil
	}
	var out []string
	for k, raw := range s.fields {
		if IsSensitiveField(k) {
			continue
		}
		var v string
		if json.Unmarshal(raw, &v) == nil && v != "" {
			out = append(out, v)
		}
	}
	return out
}

// IsSensitiveField reports whether a field name looks like it holds a
// credential: password, secret, key or token in any case, unless it names
// an identifier (ends in "id" or "arn").
func IsSensitiveField(name string) bool {
	n := strings.ToLower(name)
	// Identifiers name a credential without being one: a vendor's key id
	// ("key_id", Twilio's "api_key_sid") or an ARN appears in logs and
	// errors on purpose, to say which key was made or revoked.
	if strings.HasSuffix(n, "id") || strings.HasSuffix(n, "arn") {
		return false
	}
	for _, w := range []string{"password", "passwd", "secret", "key", "token", "credential"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// ParseBool accepts the spellings AWS's templates accept for environment
// switches: true/1/y/yes and false/0/n/no, in any case.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "y", "yes", "t", "on":
		return true, nil
	case "false", "0", "n", "no", "f", "off", "":
		return false, nil
	}
	return false, fmt.Errorf("%s is not a boolean (use true/false, 1/0, yes/no)", Quote(s))
}

// Set sets a field to any JSON-encodable value (a number, a bool, an
// object). The error names the field, never the value.
func (s *Secret) Set(field string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return &FieldError{Field: field, Reason: "cannot be encoded as JSON", Err: ErrInvalidField}
	}
	s.SetRaw(field, b)
	return nil
}

// SetRaw sets a field to JSON bytes, which must be valid JSON.
func (s *Secret) SetRaw(field string, raw json.RawMessage) {
	if s.fields == nil {
		s.fields = map[string]json.RawMessage{}
	}
	s.fields[field] = append(json.RawMessage(nil), raw...)
}
