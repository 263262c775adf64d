package rotatortest

import (
	"bytes"
	"crypto/rand"
	"math/big"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// version is one version of a secret.
type version struct {
	id      string
	str     *string
	bin     []byte
	stages  []string
	created time.Time
}

func (v *version) hasValue() bool { return v.str != nil || v.bin != nil }

func (v *version) has(stage string) bool { return slices.Contains(v.stages, stage) }

func (v *version) sameValue(str *string, bin []byte) bool {
	if (v.str == nil) != (str == nil) || (v.bin == nil) != (bin == nil) {
		return false
	}
	if str != nil {
		return *v.str == *str
	}
	return bytes.Equal(v.bin, bin)
}

type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type rotationRules struct {
	AutomaticallyAfterDays *int64  `json:"AutomaticallyAfterDays,omitempty"`
	Duration               *string `json:"Duration,omitempty"`
	ScheduleExpression     *string `json:"ScheduleExpression,omitempty"`
}

// secret is one secret and its versions.
type secret struct {
	name, arn, description, kmsKeyID string
	tags                             []tag

	versions map[string]*version
	order    []string // version ids, oldest first

	created, lastChanged time.Time
	lastAccessed         *time.Time
	lastRotated          *time.Time
	nextRotation         *time.Time
	deleted              *time.Time // scheduled deletion date

	rotationEnabled   bool
	rotationLambdaARN string
	rules             *rotationRules
}

func (sec *secret) holder(stage string) *version {
	for _, id := range sec.order {
		if v := sec.versions[id]; v.has(stage) {
			return v
		}
	}
	return nil
}

func (sec *secret) addVersion(v *version) {
	sec.versions[v.id] = v
	sec.order = append(sec.order, v.id)
}

func (sec *secret) dropVersion(id string) {
	delete(sec.versions, id)
	sec.order = slices.DeleteFunc(sec.order, func(x string) bool { return x == id })
}

func removeStage(v *version, stage string) {
	v.stages = slices.DeleteFunc(v.stages, func(x string) bool { return x == stage })
}

func addStage(v *version, stage string) {
	if !v.has(stage) {
		v.stages = append(v.stages, stage)
	}
}

// moveStage attaches stage to v, removing it from the version that had it.
// "Each staging label can be attached to only one version at a time"
// (UpdateSecretVersionStage), and "whenever you move AWSCURRENT, Secrets
// Manager automatically moves the label AWSPREVIOUS to the version that
// AWSCURRENT was removed from" (UpdateSecretVersionStage, PutSecretValue).
// It reports whether the stage moved.
func (sec *secret) moveStage(stage string, v *version) bool {
	old := sec.holder(stage)
	if old == v {
		return false
	}
	if old != nil {
		removeStage(old, stage)
	}
	addStage(v, stage)
	if stage == StageCurrent && old != nil {
		if p := sec.holder(StagePrevious); p != nil {
			removeStage(p, StagePrevious)
		}
		addStage(old, StagePrevious)
	}
	return true
}

// versionIDsToStages lists the versions that have staging labels (the
// others are deprecated: DescribeSecret's VersionIdsToStages omits them).
func (sec *secret) versionIDsToStages() map[string][]string {
	m := map[string][]string{}
	for _, id := range sec.order {
		v := sec.versions[id]
		if len(v.stages) > 0 {
			m[id] = slices.Clone(v.stages)
		}
	}
	return m
}

const arnPrefix = "arn:aws:secretsmanager:" + Region + ":" + AccountID + ":secret:"

// newARN makes the ARN of a new secret: Secrets Manager appends a hyphen and
// six random characters to the name.
func newARN(name string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 6)
	for i := range b {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			panic(err)
		}
		b[i] = alphabet[n.Int64()]
	}
	return arnPrefix + name + "-" + string(b)
}

// lookup finds a secret by name, full ARN or partial ARN (the ARN without
// the "-xxxxxx" suffix). Caller holds s.mu.
func (s *Server) lookup(id string) *secret {
	if sec, ok := s.secrets[id]; ok {
		return sec
	}
	if !strings.HasPrefix(id, "arn:") {
		return nil
	}
	for _, sec := range s.secrets {
		if sec.arn == id {
			return sec
		}
	}
	if name, ok := strings.CutPrefix(id, arnPrefix); ok {
		return s.secrets[name]
	}
	return nil
}

// find resolves a SecretId for an operation. Unless allowDeleted, a secret
// scheduled for deletion gives InvalidRequestException: "If a secret is
// scheduled for deletion, then its details, including the encrypted secret
// value, is not accessible" (DescribeSecret, DeletedDate). Caller holds s.mu.
func (s *Server) find(id string, call *Call, allowDeleted bool) (*secret, *apiError) {
	if id == "" {
		return nil, errf(errInvalidParameter, "You must specify a SecretId.")
	}
	sec := s.lookup(id)
	if sec == nil {
		return nil, errf(errResourceNotFound, "Secrets Manager can't find the specified secret.")
	}
	call.ARN = sec.arn
	if sec.deleted != nil && !allowDeleted {
		return nil, errf(errInvalidRequest, "You can't perform this operation on the secret because it was marked for deletion.")
	}
	return sec, nil
}

// checkToken applies the API's length constraint on ClientRequestToken
// (ClientRequestTokenType: 32 to 64 characters).
func checkToken(token string) *apiError {
	if n := len(token); n < 32 || n > 64 {
		return errf(errValidation, "1 validation error detected: Value '%s' at 'clientRequestToken' failed to satisfy constraint: Member must have length between 32 and 64", token)
	}
	return nil
}

// MaxSecretSize is the API's limit on a SecretString or SecretBinary:
// 65,536 bytes.
const MaxSecretSize = 65536

// checkValueSize applies the API's length constraint on a secret value.
func checkValueSize(str *string, bin []byte) *apiError {
	if str != nil && len(*str) > MaxSecretSize {
		return errf(errValidation, "1 validation error detected: Value at 'secretString' failed to satisfy constraint: Member must have length less than or equal to %d", MaxSecretSize)
	}
	if len(bin) > MaxSecretSize {
		return errf(errValidation, "1 validation error detected: Value at 'secretBinary' failed to satisfy constraint: Member must have length less than or equal to %d", MaxSecretSize)
	}
	return nil
}

// epoch marshals a time as AWS JSON does: seconds since the epoch.
type epoch time.Time

func (e epoch) MarshalJSON() ([]byte, error) {
	t := time.Time(e)
	return []byte(strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64)), nil
}

func ep(t time.Time) *epoch { e := epoch(t); return &e }

func epp(t *time.Time) *epoch {
	if t == nil {
		return nil
	}
	return ep(*t)
}

// ---- CreateSecret

type createSecretIn struct {
	Name               string  `json:"Name"`
	ClientRequestToken string  `json:"ClientRequestToken"`
	Description        string  `json:"Description"`
	KmsKeyID           string  `json:"KmsKeyId"`
	SecretString       *string `json:"SecretString"`
	SecretBinary       []byte  `json:"SecretBinary"`
	Tags               []tag   `json:"Tags"`
}

type arnNameVersion struct {
	ARN       string `json:"ARN"`
	Name      string `json:"Name"`
	VersionID string `json:"VersionId,omitempty"`
}

func (s *Server) createSecret(body []byte, call *Call) (any, *apiError) {
	var in createSecretIn
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.Name == "" {
		return nil, errf(errInvalidParameter, "You must specify a Name.")
	}
	if in.SecretString != nil {
		s.cfg.hygiene.TrackSecretString(*in.SecretString)
	}
	if in.SecretString != nil && in.SecretBinary != nil {
		return nil, errf(errInvalidParameter, "You can't specify both a binary secret value and a string secret value in the same secret.")
	}
	if e := checkValueSize(in.SecretString, in.SecretBinary); e != nil {
		return nil, e
	}
	hasValue := in.SecretString != nil || in.SecretBinary != nil
	token := in.ClientRequestToken
	if token != "" {
		if e := checkToken(token); e != nil {
			return nil, e
		}
	} else if hasValue {
		token = newUUID()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sec, ok := s.secrets[in.Name]; ok {
		call.ARN = sec.arn
		if sec.deleted != nil {
			return nil, errf(errInvalidRequest, "You can't create this secret because a secret with this name is already scheduled for deletion.")
		}
		// CreateSecret, ClientRequestToken: "If a version with this value
		// already exists and the version SecretString and SecretBinary
		// values are the same as those in the request, then the request is
		// ignored."
		if v, ok := sec.versions[token]; ok && token != "" && v.sameValue(in.SecretString, in.SecretBinary) {
			call.VersionID = v.id
			return arnNameVersion{ARN: sec.arn, Name: sec.name, VersionID: v.id}, nil
		}
		return nil, errf(errResourceExists, "The operation failed because the secret %s already exists.", in.Name)
	}
	now := s.now()
	sec := &secret{
		name:        in.Name,
		arn:         newARN(in.Name),
		description: in.Description,
		kmsKeyID:    in.KmsKeyID,
		tags:        in.Tags,
		versions:    map[string]*version{},
		created:     now,
		lastChanged: now,
	}
	s.secrets[in.Name] = sec
	call.ARN = sec.arn
	out := arnNameVersion{ARN: sec.arn, Name: sec.name}
	if hasValue {
		v := &version{id: token, str: in.SecretString, bin: in.SecretBinary, stages: []string{StageCurrent}, created: now}
		sec.addVersion(v)
		out.VersionID = v.id
		call.VersionID = v.id
	}
	return out, nil
}

// ---- GetSecretValue

type getSecretValueOut struct {
	ARN           string   `json:"ARN"`
	Name          string   `json:"Name"`
	VersionID     string   `json:"VersionId"`
	SecretString  *string  `json:"SecretString,omitempty"`
	SecretBinary  []byte   `json:"SecretBinary,omitempty"`
	VersionStages []string `json:"VersionStages"`
	CreatedDate   *epoch   `json:"CreatedDate"`
}

func (s *Server) getSecretValue(body []byte, call *Call) (any, *apiError) {
	var in commonFields
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, e := s.find(in.SecretID, call, false)
	if e != nil {
		return nil, e
	}
	var v *version
	if in.VersionID != "" {
		v = sec.versions[in.VersionID]
		// GetSecretValue, VersionStage: "If you include both this
		// parameter and VersionId, the two parameters must refer to the
		// same secret version."
		if v == nil || !v.hasValue() || (in.VersionStage != "" && !v.has(in.VersionStage)) {
			return nil, errf(errResourceNotFound, "Secrets Manager can't find the specified secret value for VersionId: %s", in.VersionID)
		}
	} else {
		// GetSecretValue, VersionStage: "If you don't specify either a
		// VersionStage or VersionId, Secrets Manager returns the
		// AWSCURRENT version."
		stage := in.VersionStage
		if stage == "" {
			stage = StageCurrent
		}
		v = sec.holder(stage)
		// A version that RotateSecret made has a label and no value yet:
		// it "can't find the specified secret value" for it.
		if v == nil || !v.hasValue() {
			return nil, errf(errResourceNotFound, "Secrets Manager can't find the specified secret value for staging label: %s", stage)
		}
	}
	call.VersionID = v.id
	now := s.now()
	sec.lastAccessed = &now
	return getSecretValueOut{
		ARN:           sec.arn,
		Name:          sec.name,
		VersionID:     v.id,
		SecretString:  v.str,
		SecretBinary:  v.bin,
		VersionStages: slices.Clone(v.stages),
		CreatedDate:   ep(v.created),
	}, nil
}

// ---- PutSecretValue

type putSecretValueIn struct {
	SecretID           string   `json:"SecretId"`
	ClientRequestToken string   `json:"ClientRequestToken"`
	SecretString       *string  `json:"SecretString"`
	SecretBinary       []byte   `json:"SecretBinary"`
	VersionStages      []string `json:"VersionStages"`
	RotationToken      string   `json:"RotationToken"`
}

type putSecretValueOut struct {
	ARN           string   `json:"ARN"`
	Name          string   `json:"Name"`
	VersionID     string   `json:"VersionId"`
	VersionStages []string `json:"VersionStages"`
}

func (s *Server) putSecretValue(body []byte, call *Call) (any, *apiError) {
	var in putSecretValueIn
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.SecretString != nil {
		s.cfg.hygiene.TrackSecretString(*in.SecretString)
	}
	if in.SecretString != nil && in.SecretBinary != nil {
		return nil, errf(errInvalidParameter, "You can't specify both a binary secret value and a string secret value in the same secret.")
	}
	if in.SecretString == nil && in.SecretBinary == nil {
		return nil, errf(errInvalidRequest, "You must provide either SecretString or SecretBinary.")
	}
	if e := checkValueSize(in.SecretString, in.SecretBinary); e != nil {
		return nil, e
	}
	token := in.ClientRequestToken
	if token == "" {
		token = newUUID()
	} else if e := checkToken(token); e != nil {
		return nil, e
	}
	call.VersionID = token
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, e := s.find(in.SecretID, call, false)
	if e != nil {
		return nil, e
	}
	now := s.now()
	v := sec.versions[token]
	if v != nil && v.hasValue() {
		// PutSecretValue, ClientRequestToken: "If a version with this value
		// already exists and that version's SecretString and SecretBinary
		// values are the same as those in the request, then the request is
		// ignored. If a version with this value already exists and that
		// version's SecretString and SecretBinary values are different from
		// those in the request, then the request fails because you can't
		// modify a secret version."
		if !v.sameValue(in.SecretString, in.SecretBinary) {
			return nil, errf(errResourceExists, "You can't use ClientRequestToken %s because that value is already in use for a version of secret %s.", token, sec.arn)
		}
		return putSecretValueOut{ARN: sec.arn, Name: sec.name, VersionID: v.id, VersionStages: slices.Clone(v.stages)}, nil
	}
	first := len(sec.versions) == 0
	if v == nil {
		v = &version{id: token, created: now}
		sec.addVersion(v)
	}
	// A version that exists without a value is the one RotateSecret made
	// for this token: createSecret stores the value in it.
	if in.SecretString != nil {
		str := *in.SecretString
		v.str = &str
	} else {
		v.bin = slices.Clone(in.SecretBinary)
	}
	stages := in.VersionStages
	// PutSecretValue, VersionStages: "If you don't include VersionStages,
	// then Secrets Manager automatically moves the staging label AWSCURRENT
	// to this version." And: "If this operation creates the first version
	// for the secret, then Secrets Manager automatically attaches the
	// staging label AWSCURRENT to the new version."
	if len(stages) == 0 {
		stages = []string{StageCurrent}
	} else if first && !slices.Contains(stages, StageCurrent) {
		stages = append(slices.Clone(stages), StageCurrent)
	}
	movedCurrent := false
	for _, st := range stages {
		if sec.moveStage(st, v) && st == StageCurrent {
			movedCurrent = true
		}
	}
	// CloudTrail's RotationAbandoned event: "When you manually create a new
	// version of a secret, you send a message signalling the abandonment of
	// the current ongoing rotation in favor of the new secret version. As a
	// result, Secrets Manager removes the AWSPENDING label to allow future
	// rotations to succeed." Modelled for a new version that takes
	// AWSCURRENT while another version holds AWSPENDING.
	if movedCurrent {
		if p := sec.holder(StagePending); p != nil && p != v {
			removeStage(p, StagePending)
		}
	}
	sec.lastChanged = now
	return putSecretValueOut{ARN: sec.arn, Name: sec.name, VersionID: v.id, VersionStages: slices.Clone(v.stages)}, nil
}

// ---- UpdateSecretVersionStage

func (s *Server) updateSecretVersionStage(body []byte, call *Call) (any, *apiError) {
	var in commonFields
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.VersionStage == "" {
		return nil, errf(errInvalidParameter, "You must specify a VersionStage.")
	}
	if in.MoveToVersionID == "" && in.RemoveFromVersionID == "" {
		return nil, errf(errInvalidParameter, "You must specify MoveToVersionId or RemoveFromVersionId.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, e := s.find(in.SecretID, call, false)
	if e != nil {
		return nil, e
	}
	label := in.VersionStage
	holder := sec.holder(label)
	var from *version
	if in.RemoveFromVersionID != "" {
		from = sec.versions[in.RemoveFromVersionID]
		if from == nil {
			return nil, errf(errResourceNotFound, "Secrets Manager can't find the specified secret value for VersionId: %s", in.RemoveFromVersionID)
		}
	}
	if in.MoveToVersionID != "" {
		to := sec.versions[in.MoveToVersionID]
		if to == nil {
			return nil, errf(errResourceNotFound, "Secrets Manager can't find the specified secret value for VersionId: %s", in.MoveToVersionID)
		}
		// UpdateSecretVersionStage, RemoveFromVersionId: "If the staging
		// label you are trying to attach to one version is already
		// attached to a different version, then you must include this
		// parameter and specify the version that the label is to be
		// removed from. If the label is attached and you either do not
		// specify this parameter, or the version ID does not match, then
		// the operation fails."
		if holder != nil && holder != to {
			if from == nil {
				return nil, errf(errInvalidParameter, "The parameter RemoveFromVersionId can't be empty. Staging label %s is currently attached to version %s, so you must explicitly reference that version in RemoveFromVersionId.", label, holder.id)
			}
			if from != holder {
				// AWS's wording for this case is not documented.
				return nil, errf(errInvalidParameter, "The parameter RemoveFromVersionId doesn't match. Staging label %s is currently attached to version %s, so you must explicitly reference that version in RemoveFromVersionId.", label, holder.id)
			}
		}
		sec.moveStage(label, to)
	} else if from.has(label) {
		removeStage(from, label)
	}
	sec.lastChanged = s.now()
	return arnNameVersion{ARN: sec.arn, Name: sec.name}, nil
}

// ---- DescribeSecret

type describeSecretOut struct {
	ARN                string              `json:"ARN"`
	Name               string              `json:"Name"`
	Description        string              `json:"Description,omitempty"`
	KmsKeyID           string              `json:"KmsKeyId,omitempty"`
	RotationEnabled    bool                `json:"RotationEnabled"`
	RotationLambdaARN  string              `json:"RotationLambdaARN,omitempty"`
	RotationRules      *rotationRules      `json:"RotationRules,omitempty"`
	LastRotatedDate    *epoch              `json:"LastRotatedDate,omitempty"`
	LastChangedDate    *epoch              `json:"LastChangedDate,omitempty"`
	LastAccessedDate   *epoch              `json:"LastAccessedDate,omitempty"`
	DeletedDate        *epoch              `json:"DeletedDate,omitempty"`
	NextRotationDate   *epoch              `json:"NextRotationDate,omitempty"`
	CreatedDate        *epoch              `json:"CreatedDate,omitempty"`
	Tags               []tag               `json:"Tags,omitempty"`
	VersionIDsToStages map[string][]string `json:"VersionIdsToStages,omitempty"`
}

func (s *Server) describeSecret(body []byte, call *Call) (any, *apiError) {
	var in commonFields
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// DescribeSecret answers for a secret scheduled for deletion (that is
	// how DeletedDate is read).
	sec, e := s.find(in.SecretID, call, true)
	if e != nil {
		return nil, e
	}
	out := describeSecretOut{
		ARN:                sec.arn,
		Name:               sec.name,
		Description:        sec.description,
		KmsKeyID:           sec.kmsKeyID,
		RotationEnabled:    sec.rotationEnabled,
		RotationLambdaARN:  sec.rotationLambdaARN,
		RotationRules:      sec.rules,
		LastRotatedDate:    epp(sec.lastRotated),
		LastChangedDate:    ep(sec.lastChanged),
		LastAccessedDate:   epp(sec.lastAccessed),
		DeletedDate:        epp(sec.deleted),
		CreatedDate:        ep(sec.created),
		Tags:               sec.tags,
		VersionIDsToStages: sec.versionIDsToStages(),
	}
	// DescribeSecret, NextRotationDate: "If the secret isn't configured
	// for rotation or rotation has been disabled, Secrets Manager returns
	// null."
	if sec.rotationEnabled {
		out.NextRotationDate = epp(sec.nextRotation)
	}
	return out, nil
}

// ---- ListSecretVersionIds

type listVersionsIn struct {
	SecretID          string `json:"SecretId"`
	IncludeDeprecated bool   `json:"IncludeDeprecated"`
	MaxResults        int    `json:"MaxResults"`
	NextToken         string `json:"NextToken"`
}

type versionEntry struct {
	VersionID     string   `json:"VersionId"`
	VersionStages []string `json:"VersionStages,omitempty"`
	CreatedDate   *epoch   `json:"CreatedDate"`
}

type listVersionsOut struct {
	ARN       string         `json:"ARN"`
	Name      string         `json:"Name"`
	Versions  []versionEntry `json:"Versions"`
	NextToken string         `json:"NextToken,omitempty"`
}

func (s *Server) listSecretVersionIDs(body []byte, call *Call) (any, *apiError) {
	var in listVersionsIn
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, e := s.find(in.SecretID, call, true)
	if e != nil {
		return nil, e
	}
	var all []versionEntry
	for _, id := range sec.order {
		v := sec.versions[id]
		// ListSecretVersionIds, IncludeDeprecated: "By default, versions
		// without staging labels aren't included."
		if len(v.stages) == 0 && !in.IncludeDeprecated {
			continue
		}
		all = append(all, versionEntry{VersionID: v.id, VersionStages: slices.Clone(v.stages), CreatedDate: ep(v.created)})
	}
	start := 0
	if in.NextToken != "" {
		n, err := strconv.Atoi(in.NextToken)
		if err != nil || n < 0 || n > len(all) {
			return nil, errf("InvalidNextTokenException", "The NextToken value is invalid.")
		}
		start = n
	}
	end := len(all)
	if in.MaxResults > 0 && start+in.MaxResults < end {
		end = start + in.MaxResults
	}
	out := listVersionsOut{ARN: sec.arn, Name: sec.name, Versions: all[start:end]}
	if out.Versions == nil {
		out.Versions = []versionEntry{}
	}
	if end < len(all) {
		out.NextToken = strconv.Itoa(end)
	}
	return out, nil
}

// ---- DeleteSecret and RestoreSecret

type deleteSecretIn struct {
	SecretID                   string `json:"SecretId"`
	RecoveryWindowInDays       *int64 `json:"RecoveryWindowInDays"`
	ForceDeleteWithoutRecovery bool   `json:"ForceDeleteWithoutRecovery"`
}

type deleteSecretOut struct {
	ARN          string `json:"ARN"`
	Name         string `json:"Name"`
	DeletionDate *epoch `json:"DeletionDate"`
}

func (s *Server) deleteSecret(body []byte, call *Call) (any, *apiError) {
	var in deleteSecretIn
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	// DeleteSecret, ForceDeleteWithoutRecovery: "You can't use both this
	// parameter and RecoveryWindowInDays in the same call."
	if in.ForceDeleteWithoutRecovery && in.RecoveryWindowInDays != nil {
		return nil, errf(errInvalidParameter, "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
	}
	// DeleteSecret, RecoveryWindowInDays: "from 7 to 30 days. ... If you
	// don't use either, then by default Secrets Manager uses a 30 day
	// recovery window."
	days := int64(30)
	if in.RecoveryWindowInDays != nil {
		days = *in.RecoveryWindowInDays
		if days < 7 || days > 30 {
			return nil, errf(errInvalidParameter, "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, e := s.find(in.SecretID, call, true)
	if e != nil {
		return nil, e
	}
	now := s.now()
	if in.ForceDeleteWithoutRecovery {
		delete(s.secrets, sec.name)
		return deleteSecretOut{ARN: sec.arn, Name: sec.name, DeletionDate: ep(now)}, nil
	}
	if sec.deleted != nil {
		return nil, errf(errInvalidRequest, "You can't perform this operation on the secret because it was marked for deletion.")
	}
	d := now.Add(time.Duration(days) * 24 * time.Hour)
	sec.deleted = &d
	return deleteSecretOut{ARN: sec.arn, Name: sec.name, DeletionDate: ep(d)}, nil
}

func (s *Server) restoreSecret(body []byte, call *Call) (any, *apiError) {
	var in commonFields
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, e := s.find(in.SecretID, call, true)
	if e != nil {
		return nil, e
	}
	sec.deleted = nil
	sec.lastChanged = s.now()
	return arnNameVersion{ARN: sec.arn, Name: sec.name}, nil
}

// ---- snapshots for test helpers

// StagesOf returns the staging labels of every version of a secret (name
// or ARN), deprecated versions included with no labels: version id ->
// labels. It returns nil if there is no such secret. It reads the state
// directly, without a call in the log.
func (s *Server) StagesOf(secretID string) map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.lookup(secretID)
	if sec == nil {
		return nil
	}
	m := make(map[string][]string, len(sec.order))
	for _, id := range sec.order {
		st := slices.Clone(sec.versions[id].stages)
		sort.Strings(st)
		m[id] = st
	}
	return m
}

// ValueOf returns the value of a version of a secret (name or ARN), as a
// string (a binary value is returned as its bytes). versionID may also be a
// staging label, and "" means AWSCURRENT. ok is false if the secret or the
// version does not exist or the version has no value. It reads the state
// directly, without a call in the log.
func (s *Server) ValueOf(secretID, versionID string) (value string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.lookup(secretID)
	if sec == nil {
		return "", false
	}
	if versionID == "" {
		versionID = StageCurrent
	}
	v := sec.versions[versionID]
	if v == nil {
		v = sec.holder(versionID)
	}
	if v == nil || !v.hasValue() {
		return "", false
	}
	if v.str != nil {
		return *v.str, true
	}
	return string(v.bin), true
}

// VersionOf returns the id of the version of a secret (name or ARN) that
// holds a staging label, or "" if none does.
func (s *Server) VersionOf(secretID, stage string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.lookup(secretID)
	if sec == nil {
		return ""
	}
	if v := sec.holder(stage); v != nil {
		return v.id
	}
	return ""
}

// ARNOf returns the ARN of a secret given by name or ARN, or "" if there is
// no such secret.
func (s *Server) ARNOf(secretID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sec := s.lookup(secretID); sec != nil {
		return sec.arn
	}
	return ""
}
