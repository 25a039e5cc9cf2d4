package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// FaultProxy is a TCP proxy in the test process between a client process and one
// server address, through which a test injects network faults into that one path —
// a broker's connection to etcd, say — without touching either side.
//
//   - Cut: every proxied connection is reset (RST to both ends) and the listener is
//     shut, so new connections are refused: what a client sees when the server's
//     host goes away.
//   - Blackhole: nothing moves in either direction. Open connections stay open; the
//     proxy stops reading from them once a few chunks are queued, so TCP flow control
//     holds the senders back, and nothing is lost. New connections are accepted (by
//     the kernel) but not forwarded: the server never sees them. What the two ends
//     see in a network partition: requests go out and nothing comes back, until their
//     own timeouts or keepalives give up.
//   - Latency: every chunk of data, in either direction, is delivered d after the
//     proxy read it.
//   - Restore: the path works again, and what a blackhole held is delivered, in
//     order, on the connections the ends have not given up on: a partition that
//     healed.
//
// Cut combines with Blackhole or Latency (a cut proxy refuses connections whatever
// else is set); Restore clears everything. The proxy listens on the same address
// for its whole life, so a client configured with Addr reaches it again after a Cut
// is restored.
//
// Each connection is served by a reader and a writer goroutine per direction; the
// writer applies the faults in force when a chunk reaches it. Close (test cleanup)
// waits for all of them. The fault methods call t.Fatal on failure, so they belong
// on the test goroutine; they are safe to call while traffic flows.
type FaultProxy struct {
	t        testing.TB
	name     string
	addr     string
	upstream string
	log      *slog.Logger
	wg       sync.WaitGroup // the accept loop and every connection's goroutines

	mu sync.Mutex
	// Invariant: ln is nil exactly when the proxy is cut or closed.
	ln    net.Listener
	conns map[*proxyConn]struct{}
	// Invariant: flowing is closed unless the proxy is blackholed.
	flowing chan struct{}
	latency time.Duration
	closed  bool
}

// FaultProxyConfig says where a FaultProxy listens and what it forwards to.
type FaultProxyConfig struct {
	Name     string // names the proxy in logs and failures
	Upstream string // host:port every connection is forwarded to (required)
	// Listen is the address to listen on; default a free loopback port.
	Listen string
	// LogDir, if set, receives <Name>.log: one line per connection and per fault.
	LogDir string
}

// StartFaultProxy starts a proxy forwarding to cfg.Upstream and closes it at test
// cleanup.
func StartFaultProxy(t testing.TB, cfg FaultProxyConfig) *FaultProxy {
	t.Helper()
	if cfg.Upstream == "" {
		t.Fatal("harness: fault proxy needs an upstream address")
	}
	if cfg.Name == "" {
		cfg.Name = "proxy-" + cfg.Upstream
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	var logOut io.Writer = io.Discard
	if cfg.LogDir != "" {
		f, err := os.OpenFile(filepath.Join(cfg.LogDir, cfg.Name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() }) // after Close (cleanups run last-in first-out)
		logOut = f
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		t.Fatalf("harness: fault proxy %s: %v", cfg.Name, err)
	}
	flowing := make(chan struct{})
	close(flowing)
	p := &FaultProxy{t: t, name: cfg.Name, addr: ln.Addr().String(), upstream: cfg.Upstream,
		log: slog.New(slog.NewTextHandler(logOut, nil)), conns: map[*proxyConn]struct{}{}, flowing: flowing}
	p.log.Info("listening", "addr", p.addr, "upstream", p.upstream)
	p.serveLocked(ln)
	t.Cleanup(p.Close)
	return p
}

// Addr is the proxy's listen address (host:port): what the client dials.
func (p *FaultProxy) Addr() string { return p.addr }

// Upstream is the address the proxy forwards to.
func (p *FaultProxy) Upstream() string { return p.upstream }

// Name is the proxy's name.
func (p *FaultProxy) Name() string { return p.name }

// Cut resets every connection through the proxy and refuses new ones until Restore.
// When it returns, both ends of every connection have been reset. Cutting a cut
// proxy does nothing.
func (p *FaultProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return
	}
	p.ln.Close() // the accept loop ends by itself
	p.ln = nil
	for c := range p.conns {
		c.close(true)
	}
	p.log.Info("cut", "reset", len(p.conns))
}

// Blackhole stops all data in both directions, on existing and new connections,
// until Restore. Blackholing a blackholed proxy does nothing.
func (p *FaultProxy) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || !isClosed(p.flowing) {
		return
	}
	p.flowing = make(chan struct{})
	p.log.Info("blackhole", "connections", len(p.conns))
}

// Latency delays every chunk of data in both directions by d until Restore (or the
// next call). Chunks already waiting keep the delay they had.
func (p *FaultProxy) Latency(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latency = d
	p.log.Info("latency", "delay", d)
}

// Restore ends every fault: the proxy listens again if it was cut (at the same
// address), held data flows again, and latency is gone.
func (p *FaultProxy) Restore() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.latency = 0
	if !isClosed(p.flowing) {
		close(p.flowing)
	}
	if p.ln == nil {
		// Another process could have taken the port while it was free; that is
		// reported, not papered over.
		ln, err := net.Listen("tcp", p.addr)
		if err != nil {
			p.t.Fatalf("harness: fault proxy %s: listen again on %s: %v", p.name, p.addr, err)
		}
		p.serveLocked(ln)
	}
	p.log.Info("restore")
}

// Close stops the proxy for good: it resets every connection and waits for all the
// proxy's goroutines. Test cleanup calls it; calling it again does nothing.
func (p *FaultProxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.close(true)
	}
	if !isClosed(p.flowing) {
		close(p.flowing)
	}
	p.mu.Unlock()
	p.wg.Wait()
	p.log.Info("closed")
}

// State describes the faults in force, for logs: "ok", "cut", "blackhole",
// "cut+latency 100ms", ...
func (p *FaultProxy) State() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var s []string
	if p.closed {
		return "closed"
	}
	if p.ln == nil {
		s = append(s, "cut")
	}
	if !isClosed(p.flowing) {
		s = append(s, "blackhole")
	}
	if p.latency > 0 {
		s = append(s, "latency "+p.latency.String())
	}
	if len(s) == 0 {
		return "ok"
	}
	return strings.Join(s, "+")
}

// Connections is the number of client connections the proxy holds open.
func (p *FaultProxy) Connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// serveLocked makes ln the proxy's listener and starts its accept loop.
func (p *FaultProxy) serveLocked(ln net.Listener) {
	p.ln = ln
	p.wg.Add(1)
	go p.accept(ln)
}

func (p *FaultProxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		cl, err := ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				p.log.Warn("accept", "err", err)
			}
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		c := &proxyConn{client: cl, ctx: ctx, cancel: cancel}
		p.mu.Lock()
		if p.ln != ln { // cut or closed since Accept returned
			p.mu.Unlock()
			c.close(true)
			return
		}
		p.conns[c] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(c)
	}
}

// dialTimeout bounds the connection to the upstream.
const dialTimeout = 10 * time.Second

// serve connects one client to the upstream and forwards both ways until either
// side ends or the connection is reset.
func (p *FaultProxy) serve(c *proxyConn) {
	defer p.wg.Done()
	defer func() {
		c.close(false)
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	}()
	from := c.client.RemoteAddr().String()
	// A blackholed proxy does not even connect to the upstream: in a partition the
	// server never sees the connection.
	if !p.waitFlowing(c) {
		return
	}
	d := net.Dialer{Timeout: dialTimeout}
	up, err := d.DialContext(c.ctx, "tcp", p.upstream)
	if err != nil {
		p.log.Info("upstream dial failed", "client", from, "err", err)
		return
	}
	if !c.setUpstream(up) {
		return
	}
	p.log.Info("connected", "client", from)
	var dirs sync.WaitGroup
	dirs.Add(1)
	go func() {
		defer dirs.Done()
		p.pipe(c, up, c.client)
	}()
	p.pipe(c, c.client, up)
	dirs.Wait()
	p.log.Info("disconnected", "client", from)
}

// waitFlowing blocks while the proxy is blackholed; it reports false if the
// connection was reset meanwhile.
func (p *FaultProxy) waitFlowing(c *proxyConn) bool {
	for {
		p.mu.Lock()
		flowing := p.flowing
		p.mu.Unlock()
		select {
		case <-flowing:
			// Blackhole may have replaced the channel after it was read; look again.
			p.mu.Lock()
			ok := flowing == p.flowing
			p.mu.Unlock()
			if ok {
				return true
			}
		case <-c.ctx.Done():
			return false
		}
	}
}

// chunk is data read from one side, waiting to be written to the other.
type chunk struct {
	data []byte
	read time.Time
}

// pipeDepth is how many chunks a direction queues before its reader stops reading
// (and TCP flow control holds the sender back).
const pipeDepth = 8

// pipe forwards src to dst: a reader goroutine queues what it reads, this goroutine
// writes it out once the faults allow. At EOF from src it half-closes dst; on any
// error it resets the connection.
func (p *FaultProxy) pipe(c *proxyConn, src, dst net.Conn) {
	q := make(chan chunk, pipeDepth)
	readErr := make(chan error, 1)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				select {
				case q <- chunk{data: buf[:n], read: time.Now()}:
				case <-c.ctx.Done():
					readErr <- c.ctx.Err()
					return
				}
			}
			if err != nil {
				readErr <- err
				return
			}
		}
	}()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for ch := range q {
		if !p.waitFlowing(c) {
			break
		}
		p.mu.Lock()
		latency := p.latency
		p.mu.Unlock()
		if wait := time.Until(ch.read.Add(latency)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-c.ctx.Done():
			}
			// A blackhole may have started while the chunk waited out its latency.
			if !p.waitFlowing(c) {
				break
			}
		}
		if _, err := dst.Write(ch.data); err != nil {
			c.close(true)
			break
		}
	}
	for range q { // the reader ends once the connection is closed; let it
	}
	if err := <-readErr; errors.Is(err, io.EOF) {
		if tc, ok := dst.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
	} else {
		c.close(true)
	}
}

// proxyConn is one client connection and, once dialled, its upstream connection.
type proxyConn struct {
	client net.Conn
	ctx    context.Context // done once the connection is closed
	cancel context.CancelFunc

	mu       sync.Mutex
	upstream net.Conn
	closed   bool
}

// setUpstream attaches the upstream connection; it reports false (and closes up) if
// the connection was closed meanwhile.
func (c *proxyConn) setUpstream(up net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		up.Close()
		return false
	}
	c.upstream = up
	return true
}

// close closes both sides once; reset makes it an RST rather than a FIN.
func (c *proxyConn) close(reset bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	c.cancel()
	for _, conn := range []net.Conn{c.client, c.upstream} {
		if conn == nil {
			continue
		}
		if tc, ok := conn.(*net.TCPConn); ok && reset {
			tc.SetLinger(0)
		}
		conn.Close()
	}
}

// String names the proxy and its state, for failure messages.
func (p *FaultProxy) String() string {
	return fmt.Sprintf("fault proxy %s (%s -> %s, %s)", p.name, p.addr, p.upstream, p.State())
}
