package okta_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rotatorkit/rotator/engines/apikey/okta"
	"github.com/rotatorkit/rotator/internal/keytest"
	"github.com/rotatorkit/rotator/internal/vendorfake"
	"github.com/rotatorkit/rotator/strategies/dualkey"
)

// fake is a stateful Okta org with one OAuth app: at most two client
// secrets, created ACTIVE or INACTIVE, deleted only when INACTIVE, the
// last active one never deactivated; the introspection endpoint
// authenticates the client with an active secret; the management API
// takes an SSWS API token or a Bearer access token.
type fake struct {
	srv  *vendorfake.Server
	host string
	app  string

	mu      sync.Mutex
	secrets []*osecret
	tokens  []keytest.Key // admin API tokens ("admin-..."), never revoked
	// log records the management calls: "create", "activate <id>",
	// "deactivate <id>", "delete <id>", "list", "introspect".
	log  []string
	urls []string
}

type osecret struct {
	keytest.Key
	active bool
}

var (
	_ keytest.Vendor        = (*fake)(nil)
	_ keytest.AdminRequired = (*fake)(nil)
)

func newFake(t testing.TB) *fake {
	f := &fake{app: "0oa" + keytest.RandomHex(8)}
	f.srv = vendorfake.Start(t, f.classify, http.HandlerFunc(f.serve))
	u, _ := url.Parse(f.srv.URL)
	f.host = u.Host
	return f
}

var (
	collPath = regexp.MustCompile(`^/api/v1/apps/([^/]+)/credentials/secrets$`)
	itemPath = regexp.MustCompile(`^/api/v1/apps/([^/]+)/credentials/secrets/([^/]+)$`)
	lifePath = regexp.MustCompile(`^/api/v1/apps/([^/]+)/credentials/secrets/([^/]+)/lifecycle/(activate|deactivate)$`)
)

func (f *fake) classify(r *http.Request) keytest.Op {
	switch {
	case r.URL.Path == "/oauth2/v1/introspect":
		return keytest.OpTest
	case collPath.MatchString(r.URL.Path) && r.Method == http.MethodPost:
		return keytest.OpCreate
	case collPath.MatchString(r.URL.Path) && r.Method == http.MethodGet:
		return keytest.OpList
	case itemPath.MatchString(r.URL.Path) && r.Method == http.MethodDelete:
		return keytest.OpRevoke
	}
	return ""
}

func oktaError(w http.ResponseWriter, status int, code, summary string) {
	vendorfake.JSON(w, status, map[string]any{"errorCode": code, "errorSummary": summary, "errorCauses": []any{}})
}

func (s *osecret) json() map[string]any {
	st := "INACTIVE"
	if s.active {
		st = "ACTIVE"
	}
	ts := s.Created.UTC().Format("2006-01-02T15:04:05.000Z")
	return map[string]any{"id": s.ID, "client_secret": s.Value, "status": st, "created": ts, "lastUpdated": ts, "secret_hash": keytest.RandomHex(8)}
}

func (f *fake) find(id string) *osecret {
	for _, s := range f.secrets {
		if s.ID == id && !s.Revoked {
			return s
		}
	}
	return nil
}

func (f *fake) count(active bool) (n int) {
	for _, s := range f.secrets {
		if !s.Revoked && (!active || s.active) {
			n++
		}
	}
	return n
}

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.urls = append(f.urls, r.URL.String())
	if r.URL.Path == "/oauth2/v1/introspect" {
		f.introspect(w, r)
		return
	}
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	authed := false
	for _, k := range f.tokens {
		if k.Value == tok && (scheme == "SSWS" || scheme == "Bearer") {
			authed = true
		}
	}
	if !authed {
		oktaError(w, 401, "E0000011", "Invalid token provided")
		return
	}
	var app string
	for _, re := range []*regexp.Regexp{lifePath, itemPath, collPath} {
		if m := re.FindStringSubmatch(r.URL.Path); m != nil {
			app = m[1]
			break
		}
	}
	if app != f.app {
		oktaError(w, 404, "E0000007", "Not found: Resource not found")
		return
	}
	switch {
	case collPath.MatchString(r.URL.Path) && r.Method == http.MethodGet:
		f.log = append(f.log, "list")
		out := []map[string]any{}
		for _, s := range f.secrets {
			if !s.Revoked {
				out = append(out, s.json())
			}
		}
		vendorfake.JSON(w, 200, out)
	case collPath.MatchString(r.URL.Path) && r.Method == http.MethodPost:
		var body struct {
			Status string `json:"status"`
		}
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &body); err != nil || (body.Status != "" && body.Status != "ACTIVE" && body.Status != "INACTIVE") {
			oktaError(w, 400, "E0000001", "Api validation failed: status")
			return
		}
		if f.count(false) >= okta.MaxSecrets {
			oktaError(w, 400, "E0000001", "Api validation failed: You can't create more than two secrets")
			return
		}
		s := &osecret{Key: keytest.Key{ID: "ocs" + keytest.RandomHex(8), Value: keytest.RandomHex(20), Created: time.Now().Truncate(time.Millisecond)}, active: body.Status != "INACTIVE"}
		f.secrets = append(f.secrets, s)
		f.log = append(f.log, "create")
		vendorfake.JSON(w, 201, s.json())
	case lifePath.MatchString(r.URL.Path) && r.Method == http.MethodPost:
		m := lifePath.FindStringSubmatch(r.URL.Path)
		s := f.find(m[2])
		if s == nil {
			oktaError(w, 404, "E0000007", "Not found: Resource not found")
			return
		}
		if m[3] == "deactivate" && s.active && f.count(true) == 1 {
			oktaError(w, 400, "E0000001", "Api validation failed: cannot deactivate the only active secret")
			return
		}
		s.active = m[3] == "activate"
		f.log = append(f.log, m[3]+" "+s.ID)
		vendorfake.JSON(w, 200, s.json())
	case itemPath.MatchString(r.URL.Path) && r.Method == http.MethodDelete:
		s := f.find(itemPath.FindStringSubmatch(r.URL.Path)[2])
		if s == nil {
			oktaError(w, 404, "E0000007", "Not found: Resource not found")
			return
		}
		if s.active {
			oktaError(w, 400, "E0000001", "Api validation failed: an active secret cannot be deleted")
			return
		}
		s.Revoked = true
		f.log = append(f.log, "delete "+s.ID)
		w.WriteHeader(204)
	default:
		oktaError(w, 404, "E0000007", "Not found: Resource not found")
	}
}

// introspect authenticates the client (basic or post) with an active
// secret; the token itself is always unknown.
func (f *fake) introspect(w http.ResponseWriter, r *http.Request) {
	f.log = append(f.log, "introspect")
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		vendorfake.JSON(w, 400, map[string]any{"error": "invalid_request"})
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("token") == "" {
		vendorfake.JSON(w, 400, map[string]any{"error": "invalid_request"})
		return
	}
	id, sec, ok := r.BasicAuth()
	if ok {
		id, _ = url.QueryUnescape(id)
		sec, _ = url.QueryUnescape(sec)
	} else {
		id, sec = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	for _, s := range f.secrets {
		if id == f.app && s.Value == sec && sec != "" && !s.Revoked && s.active {
			vendorfake.JSON(w, 200, map[string]any{"active": false})
			return
		}
	}
	vendorfake.JSON(w, 401, map[string]any{"error": "invalid_client", "error_description": "Client authentication failed."})
}

func (f *fake) engine(t testing.TB) *okta.Engine {
	e, err := okta.New(okta.WithAllowedHosts(f.host), okta.WithRootCAs(f.srv.CAs),
		okta.WithTimeout(300*time.Millisecond), okta.WithRetries(3, time.Millisecond, 5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (f *fake) Engine(t testing.TB) dualkey.Engine { return f.engine(t) }
func (f *fake) AdminRequired() bool                { return true }

func (f *fake) issue(active bool) *osecret {
	s := &osecret{Key: keytest.Key{ID: "ocs" + keytest.RandomHex(8), Value: keytest.RandomHex(20), Created: time.Now().Add(-time.Hour)}, active: active}
	f.secrets = append(f.secrets, s)
	return s
}

func (f *fake) NewSecret(t testing.TB, adminARN string) (string, keytest.Key) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.issue(true)
	doc := map[string]string{"org_url": f.srv.URL, "client_id": f.app, "client_secret": s.Value, "client_secret_id": s.ID, "note": "kept"}
	if adminARN != "" {
		doc["adminarn"] = adminARN
	}
	b, _ := json.Marshal(doc)
	return string(b), s.Key
}

func (f *fake) HandMade(testing.TB) keytest.Key {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.issue(true).Key
}

func (f *fake) NewAdmin(testing.TB) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := keytest.Key{ID: "admin-" + keytest.RandomHex(4), Name: "admin-token", Value: keytest.RandomHex(21), Created: time.Now()}
	f.tokens = append(f.tokens, k)
	b, _ := json.Marshal(map[string]string{"org_url": f.srv.URL, "api_token": k.Value})
	return string(b)
}

func (f *fake) Works(value string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.secrets {
		if s.Value == value && value != "" && !s.Revoked && s.active {
			return true
		}
	}
	return false
}

func (f *fake) Keys() []keytest.Key {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append(keytest.KeysOf(f.secrets), f.tokens...)
}

func (f *fake) Fail(op keytest.Op, ft keytest.Fault) { f.srv.Faults.Fail(op, ft) }
func (f *fake) Clear()                               { f.srv.Faults.Clear() }

func (f *fake) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}
