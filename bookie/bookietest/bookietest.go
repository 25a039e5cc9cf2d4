// Package bookietest runs real bookies in the test process, on loopback ports and temp
// dirs, against a real embedded etcd — for tests of the layers above the storage node
// (the ledger client, managed ledgers, topics). Multi-process tests use e2e/harness.
package bookietest

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-io/strata/bookie"
	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/metadata"
	"github.com/strata-io/strata/metadata/metadatatest"
)

// Cluster is an embedded etcd with n bookies b1..bn and a ledger client.
type Cluster struct {
	Store   *metadata.Store
	Ledgers *ledger.Client
	Bookies []*bookie.Bookie
}

// Start runs the cluster for the life of the test.
func Start(t testing.TB, root string, n int) *Cluster {
	t.Helper()
	st, _ := metadatatest.Store(t, root)
	c := &Cluster{Store: st}
	dir := t.TempDir()
	for i := 1; i <= n; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		b, err := bookie.Start(ctx, bookie.Config{
			ID: fmt.Sprintf("b%d", i), DataDir: filepath.Join(dir, fmt.Sprintf("b%d", i)),
			ListenAddr: "127.0.0.1:0", Metadata: st,
		})
		cancel()
		if err != nil {
			t.Fatalf("start bookie b%d: %v", i, err)
		}
		c.Bookies = append(c.Bookies, b)
	}
	lc, err := ledger.NewClient(ledger.ClientConfig{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	c.Ledgers = lc
	// Cleanups run last-in first-out: the client goes before the bookies.
	t.Cleanup(func() {
		for _, b := range c.Bookies {
			b.Close()
		}
	})
	t.Cleanup(func() { lc.Close() })
	return c
}
