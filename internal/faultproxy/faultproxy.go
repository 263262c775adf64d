package faultproxy

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"
)

// Action is what a Rule does to the connection it fires on.
type Action int

const (
	// CutBefore closes the connection (both sides) without forwarding the
	// matching chunk: the server never sees the command.
	CutBefore Action = iota + 1
	// CutAfterReply forwards the matching chunk, reads and discards the
	// server's answer up to Rule.Reply (nil: its first chunk), then closes
	// both sides: the server applied the command, the client never gets
	// the answer.
	CutAfterReply
	// StallReply forwards the matching chunk and discards everything the
	// server sends from then on, keeping the client's side open and
	// silent until the client gives up (its deadline) and closes it.
	StallReply
)

func (a Action) String() string {
	switch a {
	case CutBefore:
		return "cut before"
	case CutAfterReply:
		return "cut after reply"
	case StallReply:
		return "stall reply"
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// PostgresReady is the start of PostgreSQL's ReadyForQuery message ('Z',
// length 5), which ends the server's answer to every query: a Rule.Reply
// for a PostgreSQL server.
var PostgresReady = []byte{'Z', 0, 0, 0, 5}

// Rule breaks the first connection (or the first Times connections) whose
// client sends a matching chunk.
type Rule struct {
	// After arms the rule on a connection once its client sent a chunk
	// containing After (case-insensitive); nil arms it at once. E.g. After
	// "ALTER ROLE" and Match "commit" fire on the commit of that change.
	After []byte
	// Match fires the rule on a client chunk containing it
	// (case-insensitive). Nil with Bytes 0 matches the first chunk.
	Match []byte
	// Bytes, when positive, fires the rule instead once the client sent
	// that many bytes on the connection; the chunk that crosses the count
	// is the matching one.
	Bytes int
	// Action is what to do; it must be set.
	Action Action
	// Reply marks the end of the server's answer for CutAfterReply; nil
	// means the first chunk the server sends after the command (enough for
	// a protocol whose answers have no fixed marker, such as MySQL's OK
	// packet, when the command's answer comes in one write).
	Reply []byte
	// Times is how many connections the rule breaks; 0 means 1.
	Times int
	// Name is how Fired reports the rule; empty means "action: match".
	Name string
}

// Proxy forwards connections from a port on 127.0.0.1 to a target address.
// All methods are safe for concurrent use.
type Proxy struct {
	target string
	addr   string

	mu       sync.Mutex
	ln       net.Listener
	closed   bool
	delay    time.Duration
	rules    []*ruleState
	conns    map[*pair]struct{}
	accepted int
	fired    []string
	wg       sync.WaitGroup
}

type ruleState struct {
	r    Rule
	left int
}

// Start listens on a free port of 127.0.0.1 and forwards every connection
// to target (host:port). Close it when done.
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	p := &Proxy{target: target, addr: ln.Addr().String(), ln: ln, conns: map[*pair]struct{}{}}
	p.serve(ln)
	return p, nil
}

// Addr is the proxy's address, host:port; it stays the same across
// Refuse and Allow.
func (p *Proxy) Addr() string { return p.addr }

// Host is the proxy's host (127.0.0.1).
func (p *Proxy) Host() string { h, _, _ := net.SplitHostPort(p.addr); return h }

// Port is the proxy's port.
func (p *Proxy) Port() int {
	_, ps, _ := net.SplitHostPort(p.addr)
	n, _ := strconv.Atoi(ps)
	return n
}

// Accepted counts the connections the proxy accepted.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// Fired lists the rules that fired, in order, by Name (or "action:
// match").
func (p *Proxy) Fired() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.fired...)
}

// AddRule adds a rule; rules are tried in the order added.
func (p *Proxy) AddRule(r Rule) {
	if r.Times <= 0 {
		r.Times = 1
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, &ruleState{r: r, left: r.Times})
}

// ClearRules removes every rule that has not fired yet and the delay.
func (p *Proxy) ClearRules() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules, p.delay = nil, 0
}

// SetDelay delays every chunk forwarded from then on, both ways, by d.
func (p *Proxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

// Refuse closes the listening socket: new connections are refused by the
// operating system (ECONNREFUSED) until Allow. Open connections stay.
func (p *Proxy) Refuse() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
}

// Allow listens again on the same address after Refuse.
func (p *Proxy) Allow() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("faultproxy: closed")
	}
	if p.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return fmt.Errorf("faultproxy: listen again on %s: %w", p.addr, err)
	}
	p.ln = ln
	p.serve(ln)
	return nil
}

// DropAll closes every open connection, both sides, and returns how many
// there were.
func (p *Proxy) DropAll() int {
	p.mu.Lock()
	conns := make([]*pair, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	return len(conns)
}

// Close stops listening, drops every connection and waits for the
// forwarding goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.Refuse()
	p.DropAll()
	p.wg.Wait()
	return nil
}

// serve accepts on ln until it is closed. Caller may hold p.mu.
func (p *Proxy) serve(ln net.Listener) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.handle(c)
			}()
		}
	}()
}

// pair is one proxied connection.
type pair struct {
	client, server net.Conn
	once           sync.Once

	mu      sync.Mutex
	discard bool   // drop what the server sends
	cut     bool   // with discard: close both once the answer came
	until   []byte // with cut: the end of the answer (nil: any chunk)
	seen    []byte // server bytes discarded so far (bounded)
}

func (c *pair) close() {
	c.once.Do(func() {
		_ = c.client.Close()
		_ = c.server.Close()
	})
}

func (p *Proxy) handle(client net.Conn) {
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		_ = client.Close()
		return
	}
	c := &pair{client: client, server: server}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.close()
		return
	}
	p.accepted++
	p.conns[c] = struct{}{}
	p.mu.Unlock()
	defer func() {
		c.close()
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.down(c)
	}()
	p.up(c)
	<-done
}

// up forwards client to server, applying the rules.
func (p *Proxy) up(c *pair) {
	defer c.close()
	buf := make([]byte, 32<<10)
	armed := map[*ruleState]bool{}
	var sent int
	var tail []byte // the end of the last chunk, for patterns across reads
	for {
		n, err := c.client.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			window := bytes.ToLower(append(tail, chunk...))
			sent += n
			rule := p.match(armed, window, len(tail), sent)
			if keep := 64; len(window) > keep {
				tail = append(tail[:0], window[len(window)-keep:]...)
			} else {
				tail = append(tail[:0], window...)
			}
			if rule != nil && rule.Action == CutBefore {
				return
			}
			if rule != nil {
				c.mu.Lock()
				c.discard = true
				if rule.Action == CutAfterReply {
					c.cut, c.until = true, bytes.Clone(rule.Reply)
				}
				c.mu.Unlock()
			}
			p.sleep()
			if _, werr := c.server.Write(chunk); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// match returns the rule that fires on this chunk, if any, and uses it up.
// window is the end of the previous chunk (old bytes) and this chunk: a
// pattern counts only when it ends in this chunk, so one seen before never
// fires again on a later chunk.
func (p *Proxy) match(armed map[*ruleState]bool, window []byte, old, sent int) *Rule {
	has := func(pat []byte) bool {
		i := bytes.LastIndex(window, bytes.ToLower(pat))
		return i >= 0 && i+len(pat) > old
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, rs := range p.rules {
		r := rs.r
		if !armed[rs] {
			if r.After != nil && !has(r.After) {
				continue
			}
			armed[rs] = true
			if r.After != nil {
				continue // the chunk that armed it does not fire it
			}
		}
		hit := false
		switch {
		case r.Bytes > 0:
			hit = sent >= r.Bytes
		case r.Match == nil:
			hit = true
		default:
			hit = has(r.Match)
		}
		if !hit {
			continue
		}
		rs.left--
		if rs.left == 0 {
			p.rules = append(p.rules[:i:i], p.rules[i+1:]...)
		}
		name := r.Name
		if name == "" {
			what := string(r.Match)
			if r.Bytes > 0 {
				what = strconv.Itoa(r.Bytes) + " bytes"
			}
			name = r.Action.String() + ": " + what
		}
		p.fired = append(p.fired, name)
		return &r
	}
	return nil
}

// down forwards server to client, or discards once a rule said so.
func (p *Proxy) down(c *pair) {
	defer c.close()
	buf := make([]byte, 32<<10)
	for {
		n, err := c.server.Read(buf)
		if n > 0 {
			c.mu.Lock()
			discard, until := c.discard, c.until
			if discard && c.cut {
				c.seen = append(c.seen, buf[:n]...)
				if until == nil || bytes.Contains(c.seen, until) {
					c.mu.Unlock()
					return // the server answered; the client never hears it
				}
				if len(c.seen) > 1<<20 && len(until) > 0 {
					c.seen = c.seen[len(c.seen)-len(until):]
				}
			}
			c.mu.Unlock()
			if !discard {
				p.sleep()
				if _, werr := c.client.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *Proxy) sleep() {
	p.mu.Lock()
	d := p.delay
	p.mu.Unlock()
	if d > 0 {
		time.Sleep(d)
	}
}
