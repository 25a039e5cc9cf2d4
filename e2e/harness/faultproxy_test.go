package harness

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain checks that the proxies (and the echo servers) leave no goroutine behind.
// The package's other tests run processes, not goroutines of their own.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echoServer is a plain TCP echo server on a loopback port: what the proxy is tested
// against. It counts the bytes it received, so a test can tell that bytes the proxy
// should have dropped never reached it.
type echoServer struct {
	ln       net.Listener
	received atomic.Int64
	accepted atomic.Int64 // connections accepted
	active   atomic.Int64 // connections open
	wg       sync.WaitGroup

	mu    sync.Mutex
	conns []net.Conn
}

func startEcho(t *testing.T) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{ln: ln}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.mu.Lock()
			e.conns = append(e.conns, c)
			e.mu.Unlock()
			e.accepted.Add(1)
			e.active.Add(1)
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				defer e.active.Add(-1)
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					e.received.Add(int64(n))
					if n > 0 {
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		e.mu.Lock()
		for _, c := range e.conns {
			c.Close()
		}
		e.mu.Unlock()
		e.wg.Wait()
	})
	return e
}

func (e *echoServer) addr() string { return e.ln.Addr().String() }

// ioTimeout bounds every read that is expected to succeed or to fail promptly.
const ioTimeout = 10 * time.Second

// silenceWindow is how long a read listens to conclude that nothing comes through a
// blackholed path. Nothing can signal that bytes were dropped, so this is a bounded
// wait for an absence; the echo server answers within a millisecond otherwise.
const silenceWindow = 300 * time.Millisecond

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip writes msg and reads the same bytes back within ioTimeout.
func roundTrip(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if err := tryRoundTrip(c, msg, ioTimeout); err != nil {
		t.Fatalf("echo of %q: %v", msg, err)
	}
}

func tryRoundTrip(c net.Conn, msg string, timeout time.Duration) error {
	c.SetDeadline(time.Now().Add(timeout))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte(msg)); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if !bytes.Equal(got, []byte(msg)) {
		return errors.New("echo returned " + string(got))
	}
	return nil
}

// expectClosed asserts that the peer closed c: a read ends with EOF or a reset well
// before ioTimeout (a timeout means the connection is still open).
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	_, err := c.Read(make([]byte, 1))
	if err == nil {
		t.Fatal("read from a connection the proxy should have closed returned data")
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection still open %s after the proxy should have closed it", ioTimeout)
	}
}

// expectSilence asserts that msg written on c gets no answer within silenceWindow and
// that the echo server did not receive it.
func expectSilence(t *testing.T, c net.Conn, e *echoServer, msg string) {
	t.Helper()
	before := e.received.Load()
	err := tryRoundTrip(c, msg, silenceWindow)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("through a blackhole: want a read timeout, got %v", err)
	}
	if got := e.received.Load(); got != before {
		t.Fatalf("echo server received %d bytes through a blackhole", got-before)
	}
}

func TestFaultProxyForwards(t *testing.T) {
	e := startEcho(t)
	p := StartFaultProxy(t, FaultProxyConfig{Name: "fwd", Upstream: e.addr()})
	if p.Addr() == e.addr() {
		t.Fatal("proxy listens on its upstream's address")
	}
	c := dial(t, p.Addr())
	for _, msg := range []string{"hello", string(bytes.Repeat([]byte("0123456789"), 10_000))} {
		roundTrip(t, c, msg)
	}
	if s := p.State(); s != "ok" {
		t.Fatalf("state %q, want ok", s)
	}
}

func TestFaultProxyCutAndRestore(t *testing.T) {
	e := startEcho(t)
	p := StartFaultProxy(t, FaultProxyConfig{Name: "cut", Upstream: e.addr(), LogDir: t.TempDir()})
	c := dial(t, p.Addr())
	roundTrip(t, c, "before")

	p.Cut()
	if s := p.State(); s != "cut" {
		t.Fatalf("state %q, want cut", s)
	}
	expectClosed(t, c)
	// The server's end was reset too: its connection handler ends (there is no event
	// to wait on in another goroutine's read loop, so poll).
	eventually(t, "the server's connection closed", func() bool { return e.active.Load() == 0 })
	if c2, err := net.DialTimeout("tcp", p.Addr(), ioTimeout); err == nil {
		c2.Close()
		t.Fatal("a cut proxy accepted a connection")
	}
	p.Cut() // idempotent

	p.Restore()
	c3 := dial(t, p.Addr()) // the same address as before the cut
	roundTrip(t, c3, "after")
	if s := p.State(); s != "ok" {
		t.Fatalf("state %q after Restore, want ok", s)
	}
}

func TestFaultProxyBlackholeAndRestore(t *testing.T) {
	e := startEcho(t)
	p := StartFaultProxy(t, FaultProxyConfig{Name: "bh", Upstream: e.addr()})
	c := dial(t, p.Addr())
	roundTrip(t, c, "before")

	p.Blackhole()
	p.Blackhole() // idempotent
	if s := p.State(); s != "blackhole" {
		t.Fatalf("state %q, want blackhole", s)
	}
	// An open connection stays open but carries nothing.
	expectSilence(t, c, e, "into the hole")
	// A new connection is accepted (no refusal) but never reaches the server.
	c2 := dial(t, p.Addr())
	expectSilence(t, c2, e, "new connection")
	if n := e.accepted.Load(); n != 1 {
		t.Fatalf("the server accepted %d connections, want only the one made before the blackhole", n)
	}
	// A lot more than fits in the proxy's queues: the sender is held back, and no
	// byte is lost.
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	written := make(chan error, 1)
	go func() {
		c.SetWriteDeadline(time.Now().Add(ioTimeout))
		_, err := c.Write(big)
		written <- err
	}()

	p.Restore()
	// What the blackhole held is delivered, in order, on the same connections.
	readExactly(t, c, "into the hole")
	readExactly(t, c2, "new connection")
	readExactly(t, c, string(big))
	if err := <-written; err != nil {
		t.Fatalf("writing 1 MiB through a blackhole that was restored: %v", err)
	}
	roundTrip(t, c, "after")
	roundTrip(t, c2, "after")
}

// readExactly reads len(want) bytes within ioTimeout and compares them with want.
func readExactly(t *testing.T, c net.Conn, want string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	defer c.SetReadDeadline(time.Time{})
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("reading %d bytes: %v", len(want), err)
	}
	if string(got) != want {
		t.Fatalf("read %.40q..., want %.40q...", got, want)
	}
}

func TestFaultProxyLatency(t *testing.T) {
	e := startEcho(t)
	p := StartFaultProxy(t, FaultProxyConfig{Name: "lat", Upstream: e.addr()})
	c := dial(t, p.Addr())
	roundTrip(t, c, "warm")

	const d = 100 * time.Millisecond
	p.Latency(d)
	start := time.Now()
	roundTrip(t, c, "slow")
	// The delay applies each way. Only the lower bound is asserted: a loaded machine
	// may add any amount on top.
	if rtt := time.Since(start); rtt < 2*d {
		t.Fatalf("round trip %s with %s latency each way, want at least %s", rtt, d, 2*d)
	}

	p.Latency(2 * d) // replaces the first delay
	start = time.Now()
	roundTrip(t, c, "slower")
	if rtt := time.Since(start); rtt < 4*d {
		t.Fatalf("round trip %s with %s latency each way, want at least %s", rtt, 2*d, 4*d)
	}
	if s := p.State(); s != "latency 200ms" {
		t.Fatalf("state %q, want latency 200ms", s)
	}

	p.Restore()
	roundTrip(t, c, "fast again") // latency removal keeps the connection
}

func TestFaultProxyCutWhileBlackholed(t *testing.T) {
	e := startEcho(t)
	p := StartFaultProxy(t, FaultProxyConfig{Name: "both", Upstream: e.addr()})
	c := dial(t, p.Addr())
	p.Blackhole()
	p.Latency(time.Millisecond)
	p.Cut()
	if s := p.State(); s != "cut+blackhole+latency 1ms" {
		t.Fatalf("state %q, want cut+blackhole", s)
	}
	expectClosed(t, c)
	p.Restore()
	roundTrip(t, dial(t, p.Addr()), "after both")
}

// TestFaultProxyFaultsUnderTraffic switches faults on and off while clients keep
// echoing through the proxy (reconnecting when a fault closes their connection).
// The proxy must neither deadlock nor race (run with -race), and once restored it
// carries traffic again.
func TestFaultProxyFaultsUnderTraffic(t *testing.T) {
	e := startEcho(t)
	p := StartFaultProxy(t, FaultProxyConfig{Name: "busy", Upstream: e.addr()})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var echoed atomic.Int64
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := string(bytes.Repeat([]byte{'a' + byte(i)}, 1000))
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.DialTimeout("tcp", p.Addr(), time.Second)
				if err != nil {
					continue // cut: refused
				}
				for tryRoundTrip(c, msg, 200*time.Millisecond) == nil {
					echoed.Add(1)
					select {
					case <-stop:
						c.Close()
						return
					default:
					}
				}
				c.Close()
			}
		}()
	}
	// Each step waits for some echoes first, so every fault meets live connections.
	waitEchoes := func(n int64) {
		t.Helper()
		start := echoed.Load()
		eventually(t, fmt.Sprintf("%d more echoes through %s", n, p), func() bool { return echoed.Load() >= start+n })
	}
	for range 5 {
		waitEchoes(20)
		p.Cut()
		p.Restore()
		waitEchoes(20)
		p.Latency(time.Millisecond)
		p.Blackhole()
		p.Restore()
		waitEchoes(20)
		p.Latency(2 * time.Millisecond)
		p.Cut()
		p.Restore()
	}
	waitEchoes(20)
	close(stop)
	wg.Wait()
	p.Close()
	if n := p.Connections(); n != 0 {
		t.Fatalf("%d connections left after Close", n)
	}
}

// eventually polls cond until it holds, failing the test after ioTimeout.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, ioTimeout)
		}
		<-tick.C
	}
}

// TestFaultProxyHalfClose: a client that closes its sending side still gets the rest
// of the answer, then EOF — the proxy passes a FIN on instead of tearing down.
func TestFaultProxyHalfClose(t *testing.T) {
	e := startEcho(t)
	p := StartFaultProxy(t, FaultProxyConfig{Name: "half", Upstream: e.addr()})
	c := dial(t, p.Addr())
	if _, err := c.Write([]byte("last words")); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	readExactly(t, c, "last words")
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after the echo: %v, want EOF", err)
	}
	eventually(t, "the proxy dropped the finished connection", func() bool { return p.Connections() == 0 })
}
