package ledger_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/strata-io/strata/bookie"
	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/metadata"
	"github.com/strata-io/strata/metadata/metadatatest"
	bookiev1 "github.com/strata-io/strata/proto/bookie/v1"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// failsafe bounds every integration test; nothing waits on time otherwise.
const failsafe = 60 * time.Second

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), failsafe)
	t.Cleanup(cancel)
	return ctx
}

// testRand returns a seeded source and logs the seed if the test fails
// (LEDGER_TEST_SEED replays one).
func testRand(t testing.TB) *rand.Rand {
	seed := rand.Uint64()
	if s := os.Getenv("LEDGER_TEST_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("LEDGER_TEST_SEED: %v", err)
		}
		seed = n
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("random seed: LEDGER_TEST_SEED=%d", seed)
		}
	})
	return rand.New(rand.NewPCG(seed, seed))
}

// cluster is a real embedded etcd and in-process bookies b1..bn on loopback ports.
type cluster struct {
	t       testing.TB
	store   *metadata.Store
	bookies map[string]*bookie.Bookie
	dirs    map[string]string
}

func newCluster(t testing.TB, n int) *cluster {
	t.Helper()
	st, _ := metadatatest.Store(t, "/ledgertest")
	c := &cluster{t: t, store: st, bookies: map[string]*bookie.Bookie{}, dirs: map[string]string{}}
	t.Cleanup(func() {
		for _, b := range c.bookies {
			b.Close()
		}
	})
	for i := 1; i <= n; i++ {
		c.start(fmt.Sprintf("b%d", i))
	}
	return c
}

// start starts (or restarts, on its old data dir and a new port) bookie id.
func (c *cluster) start(id string) *bookie.Bookie {
	c.t.Helper()
	if _, ok := c.dirs[id]; !ok {
		c.dirs[id] = c.t.TempDir()
	}
	b, err := bookie.Start(testCtx(c.t), bookie.Config{
		ID:         id,
		DataDir:    c.dirs[id],
		ListenAddr: "127.0.0.1:0",
		Metadata:   c.store,
		LeaseTTL:   time.Second,
		DiskUsage:  func(string) (float64, error) { return 0.1, nil },
	})
	if err != nil {
		c.t.Fatalf("start bookie %s: %v", id, err)
	}
	c.bookies[id] = b
	return b
}

// stop closes bookie id (it unregisters first, then stops serving).
func (c *cluster) stop(id string) {
	c.t.Helper()
	c.stopAsync(id)()
}

// stopAsync starts closing bookie id and returns a function that waits for it. A
// bookie's graceful stop waits for open add streams, which a client retires when it
// gets BOOKIE_SHUTTING_DOWN — so stop a bookie a writer is idle on asynchronously.
func (c *cluster) stopAsync(id string) (wait func()) {
	c.t.Helper()
	b, ok := c.bookies[id]
	if !ok {
		c.t.Fatalf("bookie %s is not running", id)
	}
	delete(c.bookies, id)
	errc := make(chan error, 1)
	go func() { errc <- b.Close() }()
	return func() {
		c.t.Helper()
		if err := <-errc; err != nil {
			c.t.Errorf("close bookie %s: %v", id, err)
		}
	}
}

func (c *cluster) client(opts ...func(*ledger.ClientConfig)) *ledger.Client {
	c.t.Helper()
	cfg := ledger.ClientConfig{Store: c.store, AddTimeout: 5 * time.Second, ReadTimeout: 5 * time.Second}
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

// raw returns a plain gRPC client to a running bookie, to look at what it stores.
func (c *cluster) raw(id string) bookiev1.BookieClient {
	c.t.Helper()
	cc, err := grpc.NewClient(c.bookies[id].Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { cc.Close() })
	return bookiev1.NewBookieClient(cc)
}

// waitBookieLAC long-polls one bookie until its LAC for the ledger reaches at least lac.
func (c *cluster) waitBookieLAC(ctx context.Context, id string, ledgerID int64, lac int64) {
	c.t.Helper()
	rpc := c.raw(id)
	for {
		resp, err := rpc.ReadLAC(ctx, &bookiev1.ReadLACRequest{LedgerId: uint64(ledgerID), LongPollAfterLac: lac - 1, WaitMillis: 10_000})
		if err == nil && resp.Lac >= lac {
			return
		}
		if ctx.Err() != nil {
			c.t.Fatalf("bookie %s never reached LAC %d of ledger %d: %v", id, lac, ledgerID, err)
		}
	}
}

// payloadFor is entry i's content: unique per (tag, i), of a size drawn from rng.
func payloadFor(rng *rand.Rand, tag string, i int) []byte {
	p := []byte(fmt.Sprintf("%s-%06d-", tag, i))
	n := rng.IntN(256)
	for j := 0; j < n; j++ {
		p = append(p, byte('a'+rng.IntN(26)))
	}
	return p
}
