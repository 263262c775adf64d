package httpapi

import (
	"errors"
	"sync"
)

// Config is what the HTTP options of a vendor engine (WithRootCAs,
// WithTimeout, WithRetries) collect, and the clients made with them, one
// per base URL. An engine keeps one as an unexported field, so that each
// vendor's options and client cache are the same code. The zero value is
// ready; a Config must not be copied after first use.
type Config struct {
	opts []Option

	mu      sync.Mutex
	clients map[string]*Client
}

// Add appends options given to the engine.
func (c *Config) Add(opts ...Option) { c.opts = append(c.opts, opts...) }

// New returns a new client for base with the options added (an engine
// that builds its clients once, in its constructor).
func (c *Config) New(vendor, base string) (*Client, error) {
	return New(vendor, base, c.opts...)
}

// Client returns the client of base, made on first use (an engine whose
// base URL comes from each secret: an org, a site, a receiver). A base
// URL that New refuses is not kept.
func (c *Config) Client(vendor, base string) (*Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.clients[base]; ok {
		return cl, nil
	}
	cl, err := c.New(vendor, base)
	if err != nil {
		return nil, err
	}
	if c.clients == nil {
		c.clients = map[string]*Client{}
	}
	c.clients[base] = cl
	return cl, nil
}

// Gone treats ErrNotFound as success: deleting (or deactivating) a key
// that is already gone has nothing left to do.
func Gone(err error) error {
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}
