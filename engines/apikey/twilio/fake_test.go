package twilio_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rotatorkit/rotator/engines/apikey/twilio"
	"github.com/rotatorkit/rotator/internal/keytest"
	"github.com/rotatorkit/rotator/internal/vendorfake"
	"github.com/rotatorkit/rotator/strategies/dualkey"
)

// fake is a stateful Twilio account: it issues keys (IAM v1), lists and
// deletes them (2010-04-01), and accepts a key on Balance.json only while
// it exists. Standard keys may not touch /Keys; Main keys and the auth
// token may.
type fake struct {
	srv       *vendorfake.Server
	account   string
	authToken string

	mu   sync.Mutex
	keys []*fkey
	// maxPage caps the page size the fake honours (paging tests).
	maxPage int
	// nextPage, when set, replaces every next_page_uri (hostile tests).
	nextPage string
	// urls records every request's path and query.
	urls []string
}

type fkey struct {
	keytest.Key
	main bool
}

var (
	_ keytest.Vendor        = (*fake)(nil)
	_ keytest.AdminRequired = (*fake)(nil)
)

func newFake(t testing.TB) *fake {
	f := &fake{account: "AC" + keytest.RandomHex(16), authToken: keytest.RandomHex(16), maxPage: 1000}
	f.srv = vendorfake.Start(t, f.classify, http.HandlerFunc(f.serve))
	return f
}

var (
	keysPath = regexp.MustCompile(`^/2010-04-01/Accounts/([^/]+)/Keys\.json$`)
	keyPath  = regexp.MustCompile(`^/2010-04-01/Accounts/([^/]+)/Keys/([^/]+)\.json$`)
	balPath  = regexp.MustCompile(`^/2010-04-01/Accounts/([^/]+)/Balance\.json$`)
)

func (f *fake) classify(r *http.Request) keytest.Op {
	switch {
	case r.Method == http.MethodPost && (r.URL.Path == "/v1/Keys" || keysPath.MatchString(r.URL.Path)):
		return keytest.OpCreate
	case r.Method == http.MethodGet && keysPath.MatchString(r.URL.Path):
		return keytest.OpList
	case r.Method == http.MethodDelete && keyPath.MatchString(r.URL.Path):
		return keytest.OpRevoke
	case r.Method == http.MethodGet && balPath.MatchString(r.URL.Path):
		return keytest.OpTest
	}
	return ""
}

func twilioError(w http.ResponseWriter, status, code int, msg string) {
	vendorfake.JSON(w, status, map[string]any{"code": code, "message": msg, "status": status})
}

// who authenticates a request: "token", "main", "standard" or "".
func (f *fake) who(r *http.Request) string {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return ""
	}
	if user == f.account && pass == f.authToken {
		return "token"
	}
	for _, k := range f.keys {
		if k.ID == user && k.Value == pass && !k.Revoked {
			if k.main {
				return "main"
			}
			return "standard"
		}
	}
	return ""
}

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.urls = append(f.urls, r.URL.String())
	who := f.who(r)
	if who == "" {
		twilioError(w, 401, 20003, "Authenticate")
		return
	}
	manager := who == "token" || who == "main"
	accountOf := func(re *regexp.Regexp) bool {
		m := re.FindStringSubmatch(r.URL.Path)
		return m != nil && m[1] == f.account
	}
	switch op := f.classify(r); {
	case op == keytest.OpTest:
		if !accountOf(balPath) {
			twilioError(w, 403, 20003, "Authenticate")
			return
		}
		vendorfake.JSON(w, 200, map[string]any{"account_sid": f.account, "balance": "10.00", "currency": "USD"})
	case !manager:
		twilioError(w, 403, 20003, "Standard API keys may not manage keys")
	case op == keytest.OpCreate:
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			twilioError(w, 400, 20001, "form body expected")
			return
		}
		if err := r.ParseForm(); err != nil {
			twilioError(w, 400, 20001, "bad form")
			return
		}
		account := r.PostForm.Get("AccountSid")
		if m := keysPath.FindStringSubmatch(r.URL.Path); m != nil {
			account = m[1] // the 2010-04-01 create names it in the path
		}
		if account != f.account {
			twilioError(w, 403, 20003, "AccountSid is not yours")
			return
		}
		name := r.PostForm.Get("FriendlyName")
		if len(name) > 64 {
			twilioError(w, 400, 20001, "FriendlyName is too long")
			return
		}
		k := f.issue(name, false)
		vendorfake.JSON(w, 201, map[string]any{"sid": k.ID, "friendly_name": k.Name, "secret": k.Value,
			"date_created": k.Created.Format(time.RFC1123Z), "date_updated": k.Created.Format(time.RFC1123Z), "policy": nil})
	case op == keytest.OpList:
		if !accountOf(keysPath) {
			twilioError(w, 403, 20003, "Authenticate")
			return
		}
		size, _ := strconv.Atoi(r.URL.Query().Get("PageSize"))
		if size <= 0 || size > f.maxPage {
			size = min(50, f.maxPage)
		}
		page, _ := strconv.Atoi(r.URL.Query().Get("Page"))
		var live []map[string]any
		for _, k := range f.keys {
			if !k.Revoked {
				live = append(live, map[string]any{"sid": k.ID, "friendly_name": k.Name, "date_created": k.Created.Format(time.RFC1123Z)})
			}
		}
		lo, hi := min(page*size, len(live)), min((page+1)*size, len(live))
		var next any
		if hi < len(live) {
			next = fmt.Sprintf("/2010-04-01/Accounts/%s/Keys.json?PageSize=%d&Page=%d&PageToken=PA%d", f.account, size, page+1, hi)
		}
		if f.nextPage != "" {
			next = f.nextPage
		}
		vendorfake.JSON(w, 200, map[string]any{"keys": append([]map[string]any{}, live[lo:hi]...), "next_page_uri": next, "page": page, "page_size": size})
	case op == keytest.OpRevoke:
		m := keyPath.FindStringSubmatch(r.URL.Path)
		if m[1] != f.account {
			twilioError(w, 403, 20003, "Authenticate")
			return
		}
		for _, k := range f.keys {
			if k.ID == m[2] && !k.Revoked {
				k.Revoked = true
				w.WriteHeader(204)
				return
			}
		}
		twilioError(w, 404, 20404, "The requested resource was not found")
	default:
		twilioError(w, 404, 20404, "The requested resource was not found")
	}
}

// issue makes a key (the lock held).
func (f *fake) issue(name string, main bool) *fkey {
	k := &fkey{Key: keytest.Key{ID: "SK" + keytest.RandomHex(16), Name: name, Value: keytest.RandomHex(16), Created: time.Now().Truncate(time.Second)}, main: main}
	f.keys = append(f.keys, k)
	return k
}

func (f *fake) engine(t testing.TB, opts ...twilio.Option) *twilio.Engine {
	e, err := twilio.New(append([]twilio.Option{twilio.WithBaseURLs(f.srv.URL, f.srv.URL), twilio.WithRootCAs(f.srv.CAs),
		twilio.WithTimeout(300 * time.Millisecond), twilio.WithRetries(3, time.Millisecond, 5*time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (f *fake) Engine(t testing.TB) dualkey.Engine { return f.engine(t) }

func (f *fake) AdminRequired() bool { return true }

func (f *fake) secretJSON(k *fkey, adminARN string) string {
	doc := map[string]string{"account_sid": f.account, "api_key_sid": k.ID, "api_key_secret": k.Value, "note": "kept"}
	if adminARN != "" {
		doc["adminarn"] = adminARN
	}
	b, _ := json.Marshal(doc)
	return string(b)
}

func (f *fake) NewSecret(t testing.TB, adminARN string) (string, keytest.Key) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := f.issue("hand-made", false)
	return f.secretJSON(k, adminARN), k.Key
}

func (f *fake) HandMade(testing.TB) keytest.Key {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.issue("by-a-human", false).Key
}

// NewAdmin makes a Main key (Twilio's Console makes those).
func (f *fake) NewAdmin(testing.TB) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := f.issue("admin-main", true)
	b, _ := json.Marshal(map[string]string{"account_sid": f.account, "api_key_sid": k.ID, "api_key_secret": k.Value})
	return string(b)
}

func (f *fake) tokenAdmin() string {
	b, _ := json.Marshal(map[string]string{"account_sid": f.account, "auth_token": f.authToken})
	return string(b)
}

func (f *fake) Works(value string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range f.keys {
		if k.Value == value && value != "" && !k.Revoked {
			return true
		}
	}
	return false
}

func (f *fake) Keys() []keytest.Key {
	f.mu.Lock()
	defer f.mu.Unlock()
	return keytest.KeysOf(f.keys)
}

func (f *fake) Fail(op keytest.Op, ft keytest.Fault) { f.srv.Faults.Fail(op, ft) }
func (f *fake) Clear()                               { f.srv.Faults.Clear() }

// URLs returns every request's path and query.
func (f *fake) URLs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.urls...)
}
