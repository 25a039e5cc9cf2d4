package ownership

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/strata-io/strata/broker/topic"
	"github.com/strata-io/strata/internal/testenv"
	"github.com/strata-io/strata/metadata"
	"github.com/strata-io/strata/metadata/metadatatest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestEvenBundlesAndSplit(t *testing.T) {
	bs := EvenBundles(4)
	want := []string{"0x00000000", "0x40000000", "0x80000000", "0xc0000000", "0xffffffff"}
	if fmt.Sprint(bs.Boundaries) != fmt.Sprint(want) || bs.NumBundles != 4 {
		t.Fatalf("EvenBundles(4) = %+v, want %v", bs, want)
	}
	list, err := bs.list("public/default")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 4 || list[3].Hi != hashSpace || list[3].Range() != "0xc0000000_0xffffffff" {
		t.Fatalf("bundles %+v", list)
	}
	// Every hash falls in exactly one bundle, the last one included.
	for _, h := range []uint32{0, 0x3fffffff, 0x40000000, 0xbfffffff, 0xffffffff} {
		n := 0
		for _, b := range list {
			if b.Contains(h) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("hash %#x in %d bundles", h, n)
		}
	}
	next, err := bs.split("public/default", list[1])
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"0x00000000", "0x40000000", "0x60000000", "0x80000000", "0xc0000000", "0xffffffff"}
	if fmt.Sprint(next.Boundaries) != fmt.Sprint(want) || next.NumBundles != 5 {
		t.Fatalf("split = %+v, want %v", next, want)
	}
	if _, err := bs.split("public/default", Bundle{Namespace: "public/default", Lo: 1, Hi: 7}); !errors.Is(err, ErrBadBundle) {
		t.Fatalf("split of a bundle that does not exist: %v", err)
	}
	for _, bad := range [][]string{{"0x00000000"}, {"0x00000001", "0xffffffff"}, {"0x00000000", "0x80000000"},
		{"0x00000000", "0x80000000", "0x70000000", "0xffffffff"}, {"0x00000000", "zz", "0xffffffff"}} {
		if _, err := (Bundles{Boundaries: bad}).list("a/b"); !errors.Is(err, ErrBadBundle) {
			t.Errorf("boundaries %v accepted: %v", bad, err)
		}
	}
}

const failsafe = time.Minute

func testCtx(t *testing.T) context.Context { return testenv.Context(t, failsafe) }

// start runs a manager for the life of the test.
func start(t *testing.T, store *metadata.Store, id string, ttl time.Duration) (*Manager, *releases) {
	t.Helper()
	return startWith(t, Config{Store: store, BrokerID: id, LeaseTTL: ttl})
}

// startWith runs a manager configured by cfg (URLs derived from the id).
func startWith(t *testing.T, cfg Config) (*Manager, *releases) {
	t.Helper()
	cfg.PulsarURL, cfg.HTTPURL = "pulsar://"+cfg.BrokerID, "http://"+cfg.BrokerID
	m, err := Start(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := &releases{ch: make(chan *Claim, 100)}
	m.OnRelease(func(_ context.Context, c *Claim) { r.ch <- c })
	t.Cleanup(func() { m.Close(context.Background()) })
	return m, r
}

type releases struct{ ch chan *Claim }

func (r *releases) next(t *testing.T) *Claim {
	t.Helper()
	select {
	case c := <-r.ch:
		return c
	case <-testCtx(t).Done():
		t.Fatal("no release")
		return nil
	}
}

func mustName(t *testing.T, s string) topic.Name {
	t.Helper()
	n, err := topic.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAcquireIsExclusive(t *testing.T) {
	store, _ := metadatatest.Store(t, "/o1")
	ctx := testCtx(t)
	m1, _ := start(t, store, "b1", 10*time.Second)
	m2, _ := start(t, store, "b2", 10*time.Second)
	name := mustName(t, "persistent://public/default/t1")

	c1, err := m1.Acquire(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if !c1.Valid() || c1.Epoch <= 0 {
		t.Fatalf("claim %+v not valid", c1)
	}
	again, err := m1.Acquire(ctx, name)
	if err != nil || again != c1 {
		t.Fatalf("second Acquire on the owner = %v, %v; want the same claim", again, err)
	}
	_, err = m2.Acquire(ctx, name)
	var no *NotOwnerError
	if !errors.As(err, &no) || no.Owner.BrokerID != "b1" || no.Owner.PulsarURL != "pulsar://b1" {
		t.Fatalf("Acquire on another broker: %v, want NotOwnerError naming b1", err)
	}
	// Lookups anywhere name the owner.
	for _, m := range []*Manager{m1, m2} {
		res, err := m.Lookup(ctx, name, false)
		if err != nil || res.Target.BrokerID != "b1" || res.Redirect || res.Self != (m == m1) {
			t.Fatalf("lookup on %s = %+v, %v", m.BrokerID(), res, err)
		}
	}
}

func TestConcurrentAcquireOneWinner(t *testing.T) {
	store, _ := metadatatest.Store(t, "/o2")
	ms := make([]*Manager, 4)
	for i := range ms {
		ms[i], _ = start(t, store, fmt.Sprintf("b%d", i), 10*time.Second)
	}
	name := mustName(t, "persistent://public/default/race")
	var wg sync.WaitGroup
	var mu sync.Mutex
	winners := map[string]int{}
	for _, m := range ms {
		for range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := m.Acquire(testCtx(t), name); err == nil {
					mu.Lock()
					winners[m.BrokerID()]++
					mu.Unlock()
				} else if !errors.As(err, new(*NotOwnerError)) {
					t.Errorf("Acquire: %v", err)
				}
			}()
		}
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("brokers holding the bundle: %v, want exactly one", winners)
	}
}

func TestLookupAssignsLeastLoaded(t *testing.T) {
	store, _ := metadatatest.Store(t, "/o3")
	ctx := testCtx(t)
	m1, _ := start(t, store, "b1", 10*time.Second)
	m2, _ := start(t, store, "b2", 10*time.Second)
	// b1 owns one bundle of public/default; its record says so once rewritten.
	if _, err := m1.Acquire(ctx, mustName(t, "persistent://public/default/a")); err != nil {
		t.Fatal(err)
	}
	waitBrokers(ctx, t, store, func(bs map[string]BrokerInfo) bool { return len(bs) == 2 && bs["b1"].Bundles == 1 })
	// A topic of another namespace: nobody owns its bundle; b2 has fewer bundles.
	name := mustName(t, "persistent://t/ns/x")
	res, err := m1.Lookup(ctx, name, false)
	if err != nil || !res.Redirect || res.Target.BrokerID != "b2" || res.Target.PulsarURL != "pulsar://b2" {
		t.Fatalf("lookup at b1 = %+v, %v; want a redirect to b2", res, err)
	}
	// The client repeats it at b2, authoritatively: b2 claims it.
	res, err = m2.Lookup(ctx, name, true)
	if err != nil || !res.Self {
		t.Fatalf("authoritative lookup at b2 = %+v, %v", res, err)
	}
	if o, found, err := m1.OwnerOf(ctx, mustBundle(t, m1, name)); err != nil || !found || o.BrokerID != "b2" {
		t.Fatalf("owner = %+v %v %v", o, found, err)
	}
}

func mustBundle(t *testing.T, m *Manager, name topic.Name) Bundle {
	t.Helper()
	b, err := m.BundleOf(testCtx(t), name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitBrokers follows the broker records until cond holds of them.
func waitBrokers(ctx context.Context, t *testing.T, store *metadata.Store, cond func(map[string]BrokerInfo) bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bs := map[string]BrokerInfo{}
	set := func(v metadata.Value) {
		var bi BrokerInfo
		if json.Unmarshal(v.Data, &bi) == nil {
			bs[bi.ID] = bi
		}
	}
	for ev := range store.ListWatch(ctx, store.Keys.Brokers()) {
		switch ev.Type {
		case metadata.EventReset:
			clear(bs)
			for _, v := range ev.Snapshot {
				set(v)
			}
		case metadata.EventPut:
			set(ev.Value)
		case metadata.EventDelete:
			for id := range bs {
				if store.Keys.Broker(id) == ev.Value.Key {
					delete(bs, id)
				}
			}
		}
		if cond(bs) {
			return
		}
	}
	t.Fatalf("broker records never met the condition; last seen %+v", bs)
}

func TestReleaseHandsOver(t *testing.T) {
	store, _ := metadatatest.Store(t, "/o4")
	ctx := testCtx(t)
	m1, r1 := start(t, store, "b1", 10*time.Second)
	m2, _ := start(t, store, "b2", 10*time.Second)
	name := mustName(t, "persistent://public/default/t")
	c1, err := m1.Acquire(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := m1.Release(ctx, c1.Bundle); err != nil {
		t.Fatal(err)
	}
	if got := r1.next(t); got != c1 || c1.Valid() {
		t.Fatalf("release told about %v (valid %v)", got, c1.Valid())
	}
	c2, err := m2.Acquire(ctx, name)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	if c2.Epoch <= c1.Epoch {
		t.Fatalf("epochs %d then %d: want increasing", c1.Epoch, c2.Epoch)
	}
	if err := m1.Release(ctx, c1.Bundle); !errors.Is(err, ErrNotOwned) {
		t.Fatalf("second release: %v", err)
	}
}

// A lease lost on the server (here revoked behind the broker's back) ends every claim:
// they turn invalid, their topics are unloaded, another broker can take the bundle,
// and the first broker starts a new session by itself.
func TestLeaseLossReleasesEverything(t *testing.T) {
	store, _ := metadatatest.Store(t, "/o5")
	ctx := testCtx(t)
	m1, r1 := start(t, store, "b1", 3*time.Second)
	m2, _ := start(t, store, "b2", 3*time.Second)
	name := mustName(t, "persistent://public/default/t")
	c1, err := m1.Acquire(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	m1.mu.Lock()
	lease := m1.sess.lease.ID()
	m1.mu.Unlock()
	if _, err := store.Client().Revoke(ctx, lease); err != nil {
		t.Fatal(err)
	}
	if got := r1.next(t); got != c1 {
		t.Fatalf("released %v, want the claim", got)
	}
	if c1.Valid() {
		t.Fatal("claim still valid after its lease was lost")
	}
	if _, err := m2.Acquire(ctx, name); err != nil {
		t.Fatalf("other broker after the loss: %v", err)
	}
	// b1 is back with a new session: it sees b2 as the owner.
	if _, err := m1.current(ctx); err != nil {
		t.Fatalf("b1's new session: %v", err)
	}
	if _, err := m1.Acquire(ctx, name); !errors.As(err, new(*NotOwnerError)) {
		t.Fatalf("b1 after its new session: %v", err)
	}
}

// The local deadline alone ends the session: with etcd still holding the lease (no
// keepalive missed as far as etcd knows), a broker whose clock passes the deadline —
// the last confirmed renewal's send time plus the TTL — stops treating its claims as
// valid at once, releases them, gives the lease up, and starts a new session. The
// deadline is made to pass by advancing an injected clock, not by waiting for it.
func TestLocalDeadlineEndsSession(t *testing.T) {
	store, _ := metadatatest.Store(t, "/o8")
	ctx := testCtx(t)
	clock := metadatatest.NewManualClock()
	// A long TTL: real keepalives (every 20 s) never come during the test, so the
	// deadline stays where the grant put it on the manual clock.
	const ttl = 60 * time.Second
	m1, r1 := startWith(t, Config{Store: store, BrokerID: "b1", LeaseTTL: ttl, Clock: clock})
	m2, _ := start(t, store, "b2", 10*time.Second)
	name := mustName(t, "persistent://public/default/t")
	c1, err := m1.Acquire(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(ttl - time.Second)
	if !c1.Valid() {
		t.Fatal("claim invalid a second before the deadline")
	}
	clock.Advance(time.Second)
	if c1.Valid() {
		t.Fatal("claim still valid at the deadline")
	}
	if got := r1.next(t); got != c1 {
		t.Fatalf("released %v, want the claim", got)
	}
	// The lease is revoked rather than left to expire: its ownership key goes at once
	// (after the release above), and then b2 takes the bundle.
	keys := map[string]bool{}
	for ev := range store.ListWatch(ctx, store.Keys.NamespaceOwnerships("public/default")) {
		switch ev.Type {
		case metadata.EventReset:
			clear(keys)
			for _, v := range ev.Snapshot {
				keys[v.Key] = true
			}
		case metadata.EventPut:
			keys[ev.Value.Key] = true
		case metadata.EventDelete:
			delete(keys, ev.Value.Key)
		}
		if len(keys) == 0 {
			break
		}
	}
	if ctx.Err() != nil {
		t.Fatal("b1's ownership key outlived its revoked lease")
	}
	if _, err := m2.Acquire(ctx, name); err != nil {
		t.Fatalf("other broker after b1's deadline: %v", err)
	}
	if _, err := m1.current(ctx); err != nil {
		t.Fatalf("b1's new session: %v", err)
	}
	if _, err := m1.Acquire(ctx, name); !errors.As(err, new(*NotOwnerError)) {
		t.Fatalf("b1 after its new session: %v", err)
	}
}

// A broker that restarts under the same id (a crash, then the same address again)
// takes back what its earlier run held without waiting for the old lease to expire.
func TestRestartClearsEarlierRun(t *testing.T) {
	store, _ := metadatatest.Store(t, "/o6")
	ctx := testCtx(t)
	old, err := Start(ctx, Config{Store: store, BrokerID: "b1", PulsarURL: "pulsar://b1", LeaseTTL: 60 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	name := mustName(t, "persistent://public/default/t")
	if _, err := old.Acquire(ctx, name); err != nil {
		t.Fatal(err)
	}
	// Crash: keepalives stop, nothing is released, the lease would live a minute.
	close(old.stop)
	old.wg.Wait()
	old.sess.lease.Stop()

	m, _ := start(t, store, "b1", 60*time.Second)
	if _, err := m.Acquire(ctx, name); err != nil {
		t.Fatalf("restarted broker: %v", err)
	}
}

func TestSplitReleasesAndReassigns(t *testing.T) {
	store, _ := metadatatest.Store(t, "/o7")
	ctx := testCtx(t)
	m1, r1 := start(t, store, "b1", 10*time.Second)
	m2, _ := start(t, store, "b2", 10*time.Second)
	name := mustName(t, "persistent://public/default/t")
	c, err := m1.Acquire(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m2.Split(ctx, c.Bundle); !errors.As(err, new(*NotOwnerError)) {
		t.Fatalf("split by a broker that does not own the bundle: %v", err)
	}
	bs, err := m1.Split(ctx, c.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	if bs.NumBundles != 5 {
		t.Fatalf("bundles after split: %+v", bs)
	}
	if got := r1.next(t); got != c {
		t.Fatalf("released %v, want the split bundle", got)
	}
	b, err := m2.BundleOf(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if b.Hi-b.Lo != (c.Bundle.Hi-c.Bundle.Lo)/2 {
		t.Fatalf("topic now in %s, want a half of %s", b, c.Bundle)
	}
	if _, err := m2.Acquire(ctx, name); err != nil {
		t.Fatalf("half of a split bundle: %v", err)
	}
	if _, err := m1.ParseBundle(ctx, "public/default", c.Bundle.Range()); !errors.Is(err, ErrBadBundle) {
		t.Fatalf("the split bundle still parses: %v", err)
	}
}

func TestCloseReleasesAndUnregisters(t *testing.T) {
	store, _ := metadatatest.Store(t, "/o8")
	ctx := testCtx(t)
	m1, err := Start(ctx, Config{Store: store, BrokerID: "b1", PulsarURL: "pulsar://b1"})
	if err != nil {
		t.Fatal(err)
	}
	m2, _ := start(t, store, "b2", 10*time.Second)
	name := mustName(t, "persistent://public/default/t")
	if _, err := m1.Acquire(ctx, name); err != nil {
		t.Fatal(err)
	}
	m1.Close(ctx)
	bs, err := m2.Brokers(ctx)
	if err != nil || len(bs) != 1 || bs[0].ID != "b2" {
		t.Fatalf("brokers after close: %+v %v", bs, err)
	}
	if _, err := m2.Acquire(ctx, name); err != nil {
		t.Fatalf("after the owner closed: %v", err)
	}
	if _, err := m1.Acquire(ctx, mustName(t, "persistent://public/default/other")); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed manager: %v", err)
	}
}
