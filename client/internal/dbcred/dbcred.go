// Package dbcred chooses the database credential a new connection uses,
// from a secret cache, for the rotation-aware database clients (pgxrotate,
// sqlrotate): the AWSCURRENT value normally; after the server refused a
// version, a newer one; and, between a single-user rotation's setSecret
// and finishSecret (the only moment when the server has the new password
// and AWSCURRENT still holds the old one), the AWSPENDING value. It also
// says which connections were made with a credential older than the one
// new connections use, for the clients to close them gently.
package dbcred

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/rotatorkit/rotator/client/secretcache"
)

// Source is what the picker reads from *secretcache.Cache.
type Source interface {
	GetStage(ctx context.Context, secretID, stage string) (secretcache.Value, error)
	Refresh(ctx context.Context, secretID, stage string, since time.Time) (secretcache.Value, error)
	Cached(secretID, stage string) (secretcache.Value, bool)
}

var _ Source = (*secretcache.Cache)(nil)

// ErrMalformed means a secret version is not a JSON object with string
// "username" and "password" fields (AWS's RDS secret format).
var ErrMalformed = errors.New("the secret is not a JSON object with string username and password fields")

// Credential is a user name and password from one version of the secret.
type Credential struct {
	VersionID string
	Username  string
	Password  string
	// Pending is true for a credential read from AWSPENDING.
	Pending bool
}

// Parse reads the username and password of a secret version. Its error
// names the version, never the value.
func Parse(v secretcache.Value) (Credential, error) {
	var f struct {
		Username *string `json:"username"`
		Password *string `json:"password"`
	}
	if !v.HasString() || json.Unmarshal([]byte(v.SecretString()), &f) != nil || f.Username == nil || f.Password == nil || *f.Username == "" {
		return Credential{}, fmt.Errorf("secret %s version %s: %w", name(v), v.VersionID(), ErrMalformed)
	}
	return Credential{VersionID: v.VersionID(), Username: *f.Username, Password: *f.Password}, nil
}

func name(v secretcache.Value) string {
	if v.Name() != "" {
		return v.Name()
	}
	return v.ARN()
}

// Stats are the picker's counters.
type Stats struct {
	AuthFailures uint64
	Retries      uint64
	PendingUsed  uint64
	Recycled     uint64
}

// Picker chooses credentials for one secret. It is safe for concurrent use.
type Picker struct {
	src      Source
	id       string
	pending  bool
	now      func() time.Time
	log      *slog.Logger
	failures atomic.Uint64
	retries  atomic.Uint64
	usedPend atomic.Uint64
	recycled atomic.Uint64

	mu sync.Mutex
	// refused maps a version the server refused to when it last did.
	refused map[string]time.Time
	// lastRefusal is when the server last refused any version.
	lastRefusal time.Time
	// fallback is the AWSPENDING credential used while the server refuses
	// the AWSCURRENT version fallbackFor.
	fallback    Credential
	fallbackFor string
}

// maxRefused bounds the versions remembered as refused.
const maxRefused = 16

// NewPicker returns a picker for secretID. With pending, a refused
// AWSCURRENT that Secrets Manager still calls current is replaced by
// AWSPENDING's credential.
func NewPicker(src Source, secretID string, pending bool, log *slog.Logger) *Picker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Picker{src: src, id: secretID, pending: pending, now: time.Now, log: log, refused: map[string]time.Time{}}
}

// SecretID is the secret the picker reads.
func (p *Picker) SecretID() string { return p.id }

// Pick returns the credential for a new connection.
func (p *Picker) Pick(ctx context.Context) (Credential, error) {
	cur, err := p.src.GetStage(ctx, p.id, secretcache.StageCurrent)
	if err != nil {
		return Credential{}, err
	}
	if _, refused := p.refusedAt(cur.VersionID()); !refused {
		return Parse(cur)
	}
	p.mu.Lock()
	fb, fbFor, at := p.fallback, p.fallbackFor, p.lastRefusal
	p.mu.Unlock()
	if fbFor == cur.VersionID() && fb.VersionID != "" {
		return fb, nil
	}
	// The server refused this version: ask for values fetched after the
	// last refusal (one fetch however many connections ask), since what is
	// cached, AWSPENDING included, may be older than the server's password.
	if v, err := p.src.Refresh(ctx, p.id, secretcache.StageCurrent, at); err == nil {
		cur = v
	}
	if _, still := p.refusedAt(cur.VersionID()); !still || !p.pending {
		return Parse(cur)
	}
	// Secrets Manager still calls the refused version current: a
	// single-user rotation is between setSecret (the server has the new
	// password) and finishSecret (AWSCURRENT moves to it).
	for range maxRounds {
		pv, err := p.src.Refresh(ctx, p.id, secretcache.StagePending, at)
		var nf *types.ResourceNotFoundException
		switch {
		case err == nil && pv.VersionID() != cur.VersionID():
			if _, bad := p.refusedAt(pv.VersionID()); bad {
				return Parse(cur)
			}
			// AWSCURRENT read once more, by a fetch that started after
			// AWSPENDING was read: when rotations follow closely, the
			// current value may have been read before a finishSecret and
			// AWSPENDING after the next rotation's createSecret, whose
			// password the server does not have until its setSecret.
			now, err := p.src.Refresh(ctx, p.id, secretcache.StageCurrent, pv.FetchedAt())
			if err == nil && now.VersionID() != cur.VersionID() {
				// The rotation finished meanwhile.
				cur = now
				if _, still := p.refusedAt(cur.VersionID()); !still {
					return Parse(cur)
				}
				// Refused too: the next rotation is between setSecret and
				// finishSecret. Its AWSPENDING is read after this value.
				at = cur.FetchedAt()
				continue
			}
			cred, perr := Parse(pv)
			if perr != nil {
				return Parse(cur)
			}
			cred.Pending = true
			p.mu.Lock()
			p.fallback, p.fallbackFor = cred, cur.VersionID()
			p.mu.Unlock()
			p.usedPend.Add(1)
			p.log.Info("the server refuses AWSCURRENT; using AWSPENDING until the rotation finishes",
				"current_version_id", cur.VersionID(), "pending_version_id", cred.VersionID, "username", cred.Username)
			return cred, nil
		case errors.As(err, &nf):
			// No AWSPENDING: the rotation finished after the current value
			// was read. Read it once more.
			if v, err := p.src.Refresh(ctx, p.id, secretcache.StageCurrent, p.now()); err == nil {
				cur = v
			}
		}
		return Parse(cur)
	}
	return Parse(cur)
}

// maxRounds bounds the AWSPENDING reads of one Pick when rotations finish
// while it reads.
const maxRounds = 3

func (p *Picker) refusedAt(version string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.refused[version]
	return t, ok
}

// Refused records that the server refused a credential (user name and
// password as sent): the version that holds it is not used again until
// Secrets Manager has been asked for a newer one.
func (p *Picker) Refused(user, password string) {
	p.failures.Add(1)
	now := p.now()
	version := ""
	if v, ok := p.src.Cached(p.id, secretcache.StageCurrent); ok {
		if c, err := Parse(v); err == nil && c.Username == user && c.Password == password {
			version = c.VersionID
		}
	}
	p.mu.Lock()
	if version == "" && p.fallback.VersionID != "" && p.fallback.Username == user && p.fallback.Password == password {
		version = p.fallback.VersionID
		p.fallback, p.fallbackFor = Credential{}, ""
	}
	p.lastRefusal = now
	if version != "" {
		p.refused[version] = now
		for len(p.refused) > maxRefused {
			oldest, first := "", now
			for v, t := range p.refused {
				if !t.After(first) {
					oldest, first = v, t
				}
			}
			delete(p.refused, oldest)
		}
	}
	p.mu.Unlock()
	p.log.Info("the server refused the credential; a new connection reads a newer one",
		"version_id", version, "username", user)
}

// Retried counts an operation retried after a refusal.
func (p *Picker) Retried() { p.retries.Add(1) }

// Target is the version new connections use now, read without waiting for
// Secrets Manager ("" when nothing is cached).
func (p *Picker) Target() string {
	v, ok := p.src.Cached(p.id, secretcache.StageCurrent)
	if !ok {
		return ""
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fallbackFor == v.VersionID() && p.fallback.VersionID != "" {
		return p.fallback.VersionID
	}
	return v.VersionID()
}

// Outdated reports whether a connection made with version should be
// closed rather than reused: new connections use another version. It
// counts the connections it condemns.
func (p *Picker) Outdated(version string) bool {
	if version == "" {
		return false
	}
	t := p.Target()
	if t == "" || t == version {
		return false
	}
	p.recycled.Add(1)
	return true
}

// Stats returns the counters.
func (p *Picker) Stats() Stats {
	return Stats{
		AuthFailures: p.failures.Load(),
		Retries:      p.retries.Load(),
		PendingUsed:  p.usedPend.Load(),
		Recycled:     p.recycled.Load(),
	}
}
