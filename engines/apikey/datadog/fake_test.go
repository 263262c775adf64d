package datadog_test

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rotatorkit/rotator/engines/apikey/datadog"
	"github.com/rotatorkit/rotator/internal/keytest"
	"github.com/rotatorkit/rotator/internal/vendorfake"
	"github.com/rotatorkit/rotator/strategies/dualkey"
)

// fake is a stateful Datadog organisation: API keys, and application
// keys owned by users. Every /api/v2 call needs a live API key and a live
// application key (whose user is the "current user"); /api/v1/validate
// needs a live API key. Unknown keys get 403, as Datadog answers.
type fake struct {
	srv     *vendorfake.Server
	keyType string

	mu     sync.Mutex
	api    []*dkey
	app    []*dkey
	urls   []string
	bodies []string
}

type dkey struct {
	keytest.Key
	user   string
	scopes *[]string
}

var _ keytest.Vendor = (*fake)(nil)

func uuid() string {
	h := keytest.RandomHex(16)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func newFake(t testing.TB, keyType string) *fake {
	f := &fake{keyType: keyType}
	f.srv = vendorfake.Start(t, f.classify, http.HandlerFunc(f.serve))
	return f
}

var (
	apiKeyPath = regexp.MustCompile(`^/api/v2/api_keys/([^/]+)$`)
	appKeyPath = regexp.MustCompile(`^/api/v2/current_user/application_keys/([^/]+)$`)
)

func (f *fake) classify(r *http.Request) keytest.Op {
	coll, item := "/api/v2/api_keys", apiKeyPath
	if f.keyType == datadog.KeyTypeApplication {
		coll, item = "/api/v2/current_user/application_keys", appKeyPath
	}
	switch {
	case r.URL.Path == "/api/v1/validate":
		return keytest.OpTest
	case r.URL.Path == coll && r.Method == http.MethodPost:
		return keytest.OpCreate
	case r.URL.Path == coll && r.Method == http.MethodGet:
		return keytest.OpList
	case item.MatchString(r.URL.Path) && r.Method == http.MethodDelete:
		return keytest.OpRevoke
	case item.MatchString(r.URL.Path) && r.Method == http.MethodGet && f.keyType == datadog.KeyTypeApplication:
		// A key reading itself: the application key's test (and the
		// read of the current key's scopes before a create).
		return keytest.OpTest
	}
	return ""
}

func forbidden(w http.ResponseWriter) {
	vendorfake.JSON(w, 403, map[string]any{"errors": []string{"Forbidden"}})
}

func live(keys []*dkey, value string) *dkey {
	for _, k := range keys {
		if k.Value == value && value != "" && !k.Revoked {
			return k
		}
	}
	return nil
}

func (f *fake) liveApp(v string) *dkey {
	f.mu.Lock()
	defer f.mu.Unlock()
	return live(f.app, v)
}

func attrs(k *dkey, withKey bool) map[string]any {
	a := map[string]any{"name": k.Name, "created_at": k.Created.Format(time.RFC3339), "last4": k.Value[len(k.Value)-4:]}
	if withKey {
		a["key"] = k.Value
	}
	if k.user != "" {
		a["scopes"] = k.scopes
	}
	return a
}

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.urls = append(f.urls, r.URL.String())
	if live(f.api, r.Header.Get("DD-API-KEY")) == nil {
		forbidden(w)
		return
	}
	if r.URL.Path == "/api/v1/validate" {
		vendorfake.JSON(w, 200, map[string]any{"valid": true})
		return
	}
	caller := live(f.app, r.Header.Get("DD-APPLICATION-KEY"))
	if caller == nil {
		forbidden(w)
		return
	}
	typ, keys, coll, item := "api_keys", &f.api, "/api/v2/api_keys", apiKeyPath
	if strings.HasPrefix(r.URL.Path, "/api/v2/current_user/") {
		typ, keys, coll, item = "application_keys", &f.app, "/api/v2/current_user/application_keys", appKeyPath
	}
	mine := func(k *dkey) bool { return typ == "api_keys" || k.user == caller.user }
	switch {
	case r.URL.Path == coll && r.Method == http.MethodPost:
		var body struct {
			Data struct {
				Type       string `json:"type"`
				Attributes struct {
					Name   string    `json:"name"`
					Scopes *[]string `json:"scopes"`
				} `json:"attributes"`
			} `json:"data"`
		}
		b, _ := io.ReadAll(r.Body)
		f.bodies = append(f.bodies, string(b))
		if err := json.Unmarshal(b, &body); err != nil || body.Data.Type != typ || body.Data.Attributes.Name == "" {
			vendorfake.JSON(w, 400, map[string]any{"errors": []string{"Bad Request"}})
			return
		}
		k := &dkey{Key: keytest.Key{ID: uuid(), Name: body.Data.Attributes.Name, Value: keytest.RandomHex(16), Created: time.Now().Truncate(time.Second)}}
		if typ == "application_keys" {
			k.user, k.scopes = caller.user, body.Data.Attributes.Scopes
		}
		*keys = append(*keys, k)
		vendorfake.JSON(w, 201, map[string]any{"data": map[string]any{"type": typ, "id": k.ID, "attributes": attrs(k, true)}})
	case r.URL.Path == coll && r.Method == http.MethodGet:
		q := r.URL.Query()
		size, _ := strconv.Atoi(q.Get("page[size]"))
		if size <= 0 {
			size = 10
		}
		page, _ := strconv.Atoi(q.Get("page[number]"))
		var out []map[string]any
		for _, k := range *keys {
			if !k.Revoked && mine(k) && strings.Contains(k.Name, q.Get("filter")) {
				out = append(out, map[string]any{"type": typ, "id": k.ID, "attributes": attrs(k, false)})
			}
		}
		lo, hi := min(page*size, len(out)), min((page+1)*size, len(out))
		vendorfake.JSON(w, 200, map[string]any{"data": append([]map[string]any{}, out[lo:hi]...), "meta": map[string]any{"page": map[string]any{"total_filtered_count": len(out)}}})
	case item.MatchString(r.URL.Path):
		id := item.FindStringSubmatch(r.URL.Path)[1]
		for _, k := range *keys {
			if k.ID == id && !k.Revoked && mine(k) {
				if r.Method == http.MethodDelete {
					k.Revoked = true
					w.WriteHeader(204)
				} else {
					vendorfake.JSON(w, 200, map[string]any{"data": map[string]any{"type": typ, "id": k.ID, "attributes": attrs(k, false)}})
				}
				return
			}
		}
		vendorfake.JSON(w, 404, map[string]any{"errors": []string{"Not found"}})
	default:
		vendorfake.JSON(w, 404, map[string]any{"errors": []string{"Not found"}})
	}
}

func (f *fake) issueAPI(name string) *dkey {
	k := &dkey{Key: keytest.Key{ID: uuid(), Name: name, Value: keytest.RandomHex(16), Created: time.Now()}}
	f.api = append(f.api, k)
	return k
}

func (f *fake) issueApp(name, user string, scopes ...string) *dkey {
	k := &dkey{Key: keytest.Key{ID: uuid(), Name: name, Value: keytest.RandomHex(20), Created: time.Now()}, user: user}
	if scopes != nil {
		k.scopes = &scopes
	}
	f.app = append(f.app, k)
	return k
}

func (f *fake) engine(t testing.TB) *datadog.Engine {
	e, err := datadog.New(datadog.WithKeyType(f.keyType), datadog.WithBaseURL(f.srv.URL), datadog.WithRootCAs(f.srv.CAs),
		datadog.WithTimeout(300*time.Millisecond), datadog.WithRetries(3, time.Millisecond, 5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (f *fake) Engine(t testing.TB) dualkey.Engine { return f.engine(t) }

func marshal(m map[string]string) string {
	b, _ := json.Marshal(m)
	return string(b)
}

func (f *fake) NewSecret(t testing.TB, adminARN string) (string, keytest.Key) {
	f.mu.Lock()
	defer f.mu.Unlock()
	doc := map[string]string{"site": "datadoghq.eu", "note": "kept"}
	var hand *dkey
	if f.keyType == datadog.KeyTypeApplication {
		doc["api_key"] = f.issueAPI("app-api-key").Value
		hand = f.issueApp("hand-made", "app-user", "dashboards_read", "user_app_keys")
		doc["application_key"], doc["application_key_id"] = hand.Value, hand.ID
	} else {
		hand = f.issueAPI("hand-made")
		doc["api_key"], doc["api_key_id"] = hand.Value, hand.ID
		if adminARN != "" {
			doc["adminarn"] = adminARN
		} else {
			doc["application_key"] = f.issueApp("app-managing", "app-user").Value
		}
	}
	return marshal(doc), hand.Key
}

func (f *fake) HandMade(testing.TB) keytest.Key {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.keyType == datadog.KeyTypeApplication {
		return f.issueApp("by-a-human", "app-user").Key
	}
	return f.issueAPI("by-a-human").Key
}

// NewAdmin makes a service account's API and application keys ("" for
// application keys: they rotate themselves).
func (f *fake) NewAdmin(testing.TB) string {
	if f.keyType == datadog.KeyTypeApplication {
		return ""
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return marshal(map[string]string{"site": "datadoghq.eu", "api_key": f.issueAPI("admin-api").Value, "application_key": f.issueApp("admin-app", "admin-user").Value})
}

func (f *fake) rotated() []*dkey {
	if f.keyType == datadog.KeyTypeApplication {
		return f.app
	}
	return f.api
}

func (f *fake) Works(value string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return live(f.rotated(), value) != nil
}

func (f *fake) Keys() []keytest.Key {
	f.mu.Lock()
	defer f.mu.Unlock()
	return keytest.KeysOf(f.rotated())
}

func (f *fake) Fail(op keytest.Op, ft keytest.Fault) { f.srv.Faults.Fail(op, ft) }
func (f *fake) Clear()                               { f.srv.Faults.Clear() }
