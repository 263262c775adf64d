package apikey_test

import (
	"net/http"
	"time"

	"github.com/rotatorkit/rotator/client/apikey"
	"github.com/rotatorkit/rotator/client/secretcache"
)

// README:begin apikey
// vendorClient sends the secret's {"api_key": ...} as "X-Api-Key: <key>"
// and, when the vendor answers 401 to a key the rotation revoked,
// re-reads the secret once and sends the request again with the new key.
func vendorClient(cache *secretcache.Cache) (*http.Client, error) {
	tr, err := apikey.New(cache, "prod/vendor/api", apikey.WithHeader("X-Api-Key", ""))
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, nil
}

// README:end apikey

// Example compiles the README's example; it needs an AWS account to run.
func Example() {
	var cache *secretcache.Cache // secretcache.New(secretsmanager.NewFromConfig(awsCfg))
	if c, err := vendorClient(cache); err == nil {
		_ = c
	}
}
