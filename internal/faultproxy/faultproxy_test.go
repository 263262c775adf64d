package faultproxy

import (
	"bufio"
	"errors"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lineServer applies each line it reads (records it) and answers "ok <line>\n".
type lineServer struct {
	ln      net.Listener
	mu      sync.Mutex
	applied []string
}

func startLineServer(t *testing.T) *lineServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &lineServer{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					line = strings.TrimSpace(line)
					s.mu.Lock()
					s.applied = append(s.applied, line)
					s.mu.Unlock()
					if _, err := c.Write([]byte("ok " + line + "\n")); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

func (s *lineServer) has(line string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.applied {
		if a == line {
			return true
		}
	}
	return false
}

// waitApplied polls until the server applied line or a second passed.
func (s *lineServer) waitApplied(line string) bool {
	for range 100 {
		if s.has(line) {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

func startProxy(t *testing.T, s *lineServer) *Proxy {
	t.Helper()
	p, err := Start(s.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// send writes line and reads the answer with a read deadline.
func send(c net.Conn, r *bufio.Reader, line string) (string, error) {
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return "", err
	}
	_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	return r.ReadString('\n')
}

func dial(t *testing.T, p *Proxy) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

func TestCommandRules(t *testing.T) {
	tests := []struct {
		name        string
		rule        Rule
		wantApplied bool // the server applied "change x"
		wantTimeout bool // the client's read ran into its deadline (else EOF/reset)
	}{
		{"cut before the command", Rule{Match: []byte("CHANGE"), Action: CutBefore}, false, false},
		{"cut after the server answered", Rule{Match: []byte("change"), Action: CutAfterReply, Reply: []byte("ok change x\n")}, true, false},
		{"cut after the first answer chunk", Rule{Match: []byte("change"), Action: CutAfterReply}, true, false},
		{"stall the answer", Rule{Match: []byte("change"), Action: StallReply}, true, true},
		{"armed by an earlier command", Rule{After: []byte("begin"), Match: []byte("change"), Action: CutAfterReply, Reply: []byte("ok change")}, true, false},
		{"after a byte count", Rule{Bytes: 10, Action: CutBefore}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startLineServer(t)
			p := startProxy(t, s)
			p.AddRule(tt.rule)
			c, r := dial(t, p)
			if got, err := send(c, r, "begin"); err != nil || got != "ok begin\n" {
				t.Fatalf("first command: %q, %v", got, err)
			}
			got, err := send(c, r, "change x")
			if err == nil {
				t.Fatalf("the client got an answer %q", got)
			}
			var ne net.Error
			timedOut := errors.As(err, &ne) && ne.Timeout()
			if timedOut != tt.wantTimeout {
				t.Errorf("read error %v: timeout %v, want %v", err, timedOut, tt.wantTimeout)
			}
			if applied := s.waitApplied("change x"); applied != tt.wantApplied {
				t.Errorf("server applied the change: %v, want %v", applied, tt.wantApplied)
			}
			if f := p.Fired(); len(f) != 1 {
				t.Errorf("fired %q, want one rule", f)
			}
			// The rule was used up: a new connection works.
			c2, r2 := dial(t, p)
			if got, err := send(c2, r2, "change y"); err != nil || got != "ok change y\n" {
				t.Fatalf("after the rule fired: %q, %v", got, err)
			}
		})
	}
}

// TestPatternSeenBefore: a command sent before the rule existed does not
// fire it on the connection's next chunk (the proxy keeps the end of the
// previous chunk to find patterns split across reads).
func TestPatternSeenBefore(t *testing.T) {
	s := startLineServer(t)
	p := startProxy(t, s)
	c, r := dial(t, p)
	if _, err := send(c, r, "change a"); err != nil {
		t.Fatal(err)
	}
	p.AddRule(Rule{Name: "late", Match: []byte("change"), Action: CutBefore})
	if got, err := send(c, r, "x"); err != nil || got != "ok x\n" {
		t.Fatalf("a chunk without the pattern: %q, %v", got, err)
	}
	if f := p.Fired(); len(f) != 0 {
		t.Fatalf("fired %q on a pattern sent before the rule", f)
	}
	if _, err := send(c, r, "change b"); err == nil {
		t.Fatal("the rule did not fire on the pattern")
	}
	if f := p.Fired(); len(f) != 1 || f[0] != "late" {
		t.Fatalf("fired %q, want [late]", f)
	}
}

func TestRefuseAllowDropDelay(t *testing.T) {
	s := startLineServer(t)
	p := startProxy(t, s)
	open, r := dial(t, p)
	if _, err := send(open, r, "a"); err != nil {
		t.Fatal(err)
	}

	p.Refuse()
	_, err := net.Dial("tcp", p.Addr())
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial while refusing: %v, want connection refused", err)
	}
	if _, err := send(open, r, "b"); err != nil {
		t.Fatalf("an open connection stopped working while refusing: %v", err)
	}
	if err := p.Allow(); err != nil {
		t.Fatal(err)
	}
	c, r2 := dial(t, p)
	if _, err := send(c, r2, "c"); err != nil {
		t.Fatal(err)
	}

	if n := p.DropAll(); n != 2 {
		t.Errorf("DropAll closed %d connections, want 2", n)
	}
	if got, err := send(c, r2, "d"); err == nil {
		t.Fatalf("a dropped connection answered %q", got)
	}

	const d = 150 * time.Millisecond
	p.SetDelay(d)
	c3, r3 := dial(t, p)
	start := time.Now()
	if _, err := send(c3, r3, "e"); err != nil {
		t.Fatal(err)
	}
	// Two chunks (request and answer) are each delayed.
	if took := time.Since(start); took < 2*d {
		t.Errorf("round trip took %v with a %v delay each way", took, d)
	}
	if p.Accepted() != 3 {
		t.Errorf("accepted %d connections, want 3", p.Accepted())
	}
}
