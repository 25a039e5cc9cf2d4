// Package bookietest runs real bookies in the test process, on loopback ports and temp
// dirs, against a real embedded etcd — for tests of the layers above the storage node
// (managed ledgers, topics). Multi-process tests use e2e/harness. (The ledger client's
// own tests cannot import this package: it imports the ledger client.)
package bookietest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/strata-io/strata/bookie"
	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/metadata"
	"github.com/strata-io/strata/metadata/metadatatest"
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

// NewClient returns a new ledger client (a broker's), closed at the end of the test.
func (c *Cluster) NewClient() *ledger.Client {
	c.t.Helper()
	cl, err := ledger.NewClient(ledger.ClientConfig{Store: c.Store, AddTimeout: 5 * time.Second, ReadTimeout: 5 * time.Second})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { cl.Close() })
	return cl
}
