// Package bookietest runs real bookies in the test process, on loopback ports and temp
// dirs, against a real embedded etcd — for tests of the layers above the storage node
// (the ledger client, managed ledgers, topics). Multi-process tests use e2e/harness.
//
// The ledger client's own tests use it from their external test package
// (package ledger_test): this package imports the ledger client, so an internal test of
// bookie/ledger could not.
package bookietest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/strata-io/strata/bookie"
	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/metadata"
	"github.com/strata-io/strata/metadata/metadatatest"
	bookiev1 "github.com/strata-io/strata/proto/bookie/v1"
)

// Cluster is an embedded etcd with bookies b1..bn.
type Cluster struct {
	t     testing.TB
	Store *metadata.Store
	// Ledgers is a ledger client created with the cluster (what one broker has).
	Ledgers *ledger.Client

	mu      sync.Mutex
	bookies map[string]*bookie.Bookie
	dirs    map[string]string
}

// Start runs the cluster for the life of the test.
func Start(t testing.TB, root string, n int) *Cluster {
	t.Helper()
	st, _ := metadatatest.Store(t, root)
	c := &Cluster{t: t, Store: st, bookies: map[string]*bookie.Bookie{}, dirs: map[string]string{}}
	// Cleanups run last-in first-out: clients (registered later) close before bookies.
	t.Cleanup(c.StopBookies)
	for i := 1; i <= n; i++ {
		c.StartBookie(fmt.Sprintf("b%d", i))
	}
	c.Ledgers = c.NewClient()
	return c
}

// StartBookie starts bookie id, or restarts it on its old data dir (and a new port).
func (c *Cluster) StartBookie(id string) *bookie.Bookie {
	c.t.Helper()
	c.mu.Lock()
	dir, ok := c.dirs[id]
	if !ok {
		dir = c.t.TempDir()
		c.dirs[id] = dir
	}
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := bookie.Start(ctx, bookie.Config{
		ID:         id,
		DataDir:    dir,
		ListenAddr: "127.0.0.1:0",
		Metadata:   c.Store,
		LeaseTTL:   time.Second,
		// A fixed disk usage: the host's real usage must not turn test bookies read-only.
		DiskUsage: func(string) (float64, error) { return 0.1, nil },
	})
	if err != nil {
		c.t.Fatalf("start bookie %s: %v", id, err)
	}
	c.mu.Lock()
	c.bookies[id] = b
	c.mu.Unlock()
	return b
}

// Bookie returns a running bookie by id (nil if stopped).
func (c *Cluster) Bookie(id string) *bookie.Bookie {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bookies[id]
}

// StopBookies closes every running bookie, concurrently: a bookie's graceful stop waits
// for the add streams clients keep open, which they retire when told it shuts down.
func (c *Cluster) StopBookies() {
	c.mu.Lock()
	bs := c.bookies
	c.bookies = map[string]*bookie.Bookie{}
	c.mu.Unlock()
	var wg sync.WaitGroup
	for id, b := range bs {
		wg.Go(func() {
			if err := b.Close(); err != nil {
				c.t.Errorf("close bookie %s: %v", id, err)
			}
		})
	}
	wg.Wait()
}

// BookieIDs lists the running bookies' ids, sorted.
func (c *Cluster) BookieIDs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := make([]string, 0, len(c.bookies))
	for id := range c.bookies {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// StopBookie closes bookie id (it unregisters first, then stops serving); its data dir
// stays, for StartBookie to restart it on.
func (c *Cluster) StopBookie(id string) {
	c.t.Helper()
	c.StopBookieAsync(id)()
}

// StopBookieAsync starts closing bookie id and returns a function that waits for it. A
// bookie's graceful stop waits for open add streams, which a client retires when it
// gets BOOKIE_SHUTTING_DOWN — so stop a bookie a writer is idle on asynchronously.
func (c *Cluster) StopBookieAsync(id string) (wait func()) {
	c.t.Helper()
	c.mu.Lock()
	b, ok := c.bookies[id]
	delete(c.bookies, id)
	c.mu.Unlock()
	if !ok {
		c.t.Fatalf("bookie %s is not running", id)
	}
	errc := make(chan error, 1)
	go func() { errc <- b.Close() }()
	return func() {
		c.t.Helper()
		if err := <-errc; err != nil {
			c.t.Errorf("close bookie %s: %v", id, err)
		}
	}
}

// RawClient returns a plain gRPC client to a running bookie, to look at (or write)
// what it stores behind the ledger client's back.
func (c *Cluster) RawClient(id string) bookiev1.BookieClient {
	c.t.Helper()
	b := c.Bookie(id)
	if b == nil {
		c.t.Fatalf("bookie %s is not running", id)
	}
	cc, err := grpc.NewClient(b.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { cc.Close() })
	return bookiev1.NewBookieClient(cc)
}

// NewClient returns a new ledger client (a broker's), closed at the end of the test.
// Options adjust its configuration (timeouts, interceptors).
func (c *Cluster) NewClient(opts ...func(*ledger.ClientConfig)) *ledger.Client {
	c.t.Helper()
	cfg := ledger.ClientConfig{Store: c.Store, AddTimeout: 5 * time.Second, ReadTimeout: 5 * time.Second}
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
