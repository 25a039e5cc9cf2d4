package e2e

// End-to-end tests of the storage layer: `strata bookie` OS processes next to a real
// embedded etcd, driven by the ledger client in the test process. Faults are real ones
// — SIGKILL, SIGTERM, a restart on the same data dir, a wiped data dir, a byte flipped on
// disk — and every test checks the reference's invariants (pulsar-semantics.md §2.4,
// §2.8) against what the bookies really store: every acknowledged entry reads back
// byte-equal, nothing a writer never sent appears, recovery never closes short.
//
// This file holds what the storage tests share; the tests are in storage_*_test.go.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/e2e/harness"
	"github.com/strata-io/strata/metadata"
	"github.com/strata-io/strata/metadata/metadatatest"
)

// storagePayload is the content of entry id in a test with this seed: ~1 KiB (768 to
// 1279 bytes), starting with the id in text and then pseudo-random bytes. Deriving it
// from (seed, id) lets a test say exactly which bytes a writer sent under each id.
func storagePayload(seed uint64, id int64) []byte {
	r := rand.New(rand.NewPCG(seed, uint64(id)))
	p := make([]byte, 768+r.IntN(512))
	n := copy(p, fmt.Sprintf("entry-%d-", id))
	for i := n; i < len(p); i++ {
		p[i] = byte(r.Uint32())
	}
	return p
}

// storageCluster is a real embedded etcd (in the test process) and `strata bookie`
// processes bookie-1..bookie-n registered in it, each with its own data dir.
type storageCluster struct {
	t       *testing.T
	dir     string
	etcd    string
	store   *metadata.Store // the test's own connection to etcd, at the bookies' root
	bookies map[string]*harness.Bookie
	logPath string // the test's ledger clients log here (shown if the test fails)
}

func newStorageCluster(t *testing.T, n int) *storageCluster {
	t.Helper()
	st, ep := metadatatest.Store(t, metadata.DefaultRoot)
	dir := t.TempDir()
	c := &storageCluster{t: t, dir: dir, etcd: ep, store: st, bookies: map[string]*harness.Bookie{},
		logPath: filepath.Join(dir, "ledger-client.log")}
	for _, b := range harness.StartBookies(t, ep, dir, n) {
		c.bookies[b.ID] = b
	}
	t.Cleanup(func() {
		if t.Failed() {
			if b, err := os.ReadFile(c.logPath); err == nil {
				s := string(b)
				if len(s) > 6000 {
					s = "..." + s[len(s)-6000:]
				}
				t.Logf("---- ledger client log ----\n%s", s)
			}
		}
	})
	return c
}

// client returns a ledger client on the cluster's etcd, closed at cleanup (closing it
// twice is harmless).
func (c *storageCluster) client(opts ...func(*ledger.ClientConfig)) *ledger.Client {
	c.t.Helper()
	f, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { f.Close() })
	cfg := ledger.ClientConfig{
		Store:       c.store,
		Logger:      slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelInfo})),
		AddTimeout:  10 * time.Second,
		ReadTimeout: 10 * time.Second,
	}
	for _, o := range opts {
		o(&cfg)
	}
	cl, err := ledger.NewClient(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { cl.Close() })
	return cl
}

// noExplicitLAC turns off the writer's idle LAC push, so the bookies' LAC stays behind
// the last acknowledged entry and recovery has a tail to read forward and re-write.
func noExplicitLAC(cfg *ledger.ClientConfig) { cfg.ExplicitLACDelay = -1 }

// writeClosed creates a ledger with opts, writes entries 0..n-1 of seed through it (32
// in flight) and closes it, failing the test unless every add was acknowledged. It
// returns the ledger's id.
func (c *storageCluster) writeClosed(ctx context.Context, opts ledger.CreateOptions, seed uint64, n int64) int64 {
	c.t.Helper()
	cl := c.client()
	defer cl.Close()
	w, err := cl.Create(ctx, opts)
	if err != nil {
		c.t.Fatal(err)
	}
	if acked, _, failures := startPipeline(ctx, c.t, w, seed, n, 32, nil).wait(ctx); acked != n || len(failures) > 0 {
		c.t.Fatalf("%d of %d acknowledged: %v", acked, n, errors.Join(failures...))
	}
	if err := w.Close(ctx); err != nil {
		c.t.Fatal(err)
	}
	return w.ID()
}

// meta reads a ledger's metadata straight from etcd.
func (c *storageCluster) meta(ctx context.Context, id int64) *ledger.Metadata {
	c.t.Helper()
	v, err := c.store.Get(ctx, c.store.Keys.Ledger(id))
	if err != nil {
		c.t.Fatalf("ledger %d metadata: %v", id, err)
	}
	m, err := ledger.UnmarshalMetadata(v.Data)
	if err != nil {
		c.t.Fatalf("ledger %d metadata: %v", id, err)
	}
	return m
}

// readBack reads entries 0..last of a ledger through a fresh client and checks that
// each is byte-equal to storagePayload(seed, id).
func (c *storageCluster) readBack(ctx context.Context, id int64, seed uint64, last int64, opts ...func(*ledger.ClientConfig)) {
	c.t.Helper()
	cl := c.client(opts...)
	defer cl.Close()
	r, err := cl.OpenReader(ctx, id)
	if err != nil {
		c.t.Fatal(err)
	}
	got, err := r.Read(ctx, 0, last)
	if err != nil {
		c.t.Fatalf("read entries 0..%d of ledger %d: %v", last, id, err)
	}
	if int64(len(got)) != last+1 {
		c.t.Fatalf("read %d entries of ledger %d, want %d", len(got), id, last+1)
	}
	for i, e := range got {
		if want := storagePayload(seed, int64(i)); e.ID != int64(i) || !bytes.Equal(e.Payload, want) {
			c.t.Fatalf("ledger %d entry %d: got id %d, %d bytes %.24q; want the %d bytes %.24q sent under that id",
				id, i, e.ID, len(e.Payload), e.Payload, len(want), want)
		}
	}
}

// storagePipeline is a writer that appends entries from its own goroutine with at
// most window adds in flight: append i carries storagePayload(seed, i). It records
// every outcome and checks the ack rule as the callbacks come: append i is
// acknowledged as entry i, in order, and nothing is acknowledged after an append failed.
type storagePipeline struct {
	t      *testing.T
	w      *ledger.Writer
	seed   uint64
	limit  int64                     // appends to make; < 0: until one fails
	gates  map[int64]<-chan struct{} // append i waits for gates[i] to close
	slots  chan struct{}             // one per add in flight
	issued chan struct{}             // closed when the goroutine made its last append
	failed chan struct{}             // closed at the first failed append

	mu sync.Mutex
	// Invariant: entries 0..acked-1 were acknowledged, and nothing else.
	acked    int64
	made     int64   // appends made (entry ids 0..made-1 were sent at most)
	failures []error // in callback order
	waiters  []ackWaiter
}

type ackWaiter struct {
	n  int64
	ch chan struct{}
}

func startPipeline(ctx context.Context, t *testing.T, w *ledger.Writer, seed uint64, limit int64, window int, gates map[int64]<-chan struct{}) *storagePipeline {
	p := &storagePipeline{t: t, w: w, seed: seed, limit: limit, gates: gates,
		slots: make(chan struct{}, window), issued: make(chan struct{}), failed: make(chan struct{})}
	go p.run(ctx)
	return p
}

func (p *storagePipeline) run(ctx context.Context) {
	defer close(p.issued)
	for i := int64(0); p.limit < 0 || i < p.limit; i++ {
		if g, ok := p.gates[i]; ok {
			select {
			case <-g:
			case <-ctx.Done():
				return
			}
		}
		select {
		case <-p.failed:
			return // the writer has ended: it refuses every further append
		default:
		}
		select {
		case <-p.failed:
			return
		case p.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		p.mu.Lock()
		p.made++
		p.mu.Unlock()
		p.w.AppendAsync(storagePayload(p.seed, i), func(id int64, err error) { p.done(i, id, err) })
	}
}

func (p *storagePipeline) done(i, id int64, err error) {
	defer func() { <-p.slots }()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		if len(p.failures) == 0 {
			close(p.failed)
		}
		p.failures = append(p.failures, err)
		return
	}
	switch {
	case id != i:
		p.t.Errorf("append %d was acknowledged as entry %d", i, id)
	case len(p.failures) > 0:
		p.t.Errorf("entry %d acknowledged after an earlier append failed (%v): breaks the ack rule", id, p.failures[0])
	case id != p.acked:
		p.t.Errorf("entry %d acknowledged when entry %d was the next unacknowledged one", id, p.acked)
	}
	p.acked = id + 1
	kept := p.waiters[:0]
	for _, w := range p.waiters {
		if p.acked >= w.n {
			close(w.ch)
		} else {
			kept = append(kept, w)
		}
	}
	p.waiters = kept
}

// waitAcked blocks until at least n entries are acknowledged.
func (p *storagePipeline) waitAcked(ctx context.Context, n int64) {
	p.t.Helper()
	p.mu.Lock()
	if p.acked >= n {
		p.mu.Unlock()
		return
	}
	ch := make(chan struct{})
	p.waiters = append(p.waiters, ackWaiter{n: n, ch: ch})
	p.mu.Unlock()
	select {
	case <-ch:
	case <-p.failed:
		p.mu.Lock()
		defer p.mu.Unlock()
		p.t.Fatalf("an append failed with %d of %d entries acknowledged: %v", p.acked, n, p.failures[0])
	case <-ctx.Done():
		p.mu.Lock()
		defer p.mu.Unlock()
		p.t.Fatalf("%d of %d entries acknowledged at the failsafe deadline", p.acked, n)
	}
}

// wait blocks until the pipeline made its last append and every callback ran, and
// returns the outcome: entries 0..acked-1 acknowledged, made appends sent, failures.
func (p *storagePipeline) wait(ctx context.Context) (acked, made int64, failures []error) {
	p.t.Helper()
	select {
	case <-p.issued:
	case <-ctx.Done():
		p.t.Fatal("pipeline still appending at the failsafe deadline")
	}
	// Every callback frees its slot: holding all of them means none is outstanding.
	for range cap(p.slots) {
		select {
		case p.slots <- struct{}{}:
		case <-ctx.Done():
			p.t.Fatal("adds still unanswered at the failsafe deadline")
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.acked, p.made, append([]error(nil), p.failures...)
}

// allAre reports whether every error wraps target.
func allAre(errs []error, target error) bool {
	for _, err := range errs {
		if !errors.Is(err, target) {
			return false
		}
	}
	return true
}
