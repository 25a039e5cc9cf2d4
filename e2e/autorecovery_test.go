package e2e

// End-to-end tests of auto-recovery and decommission: `strata bookie` OS processes,
// each running an auto-recovery worker candidate (the default) with short delays, next
// to a real embedded etcd; the test writes ledgers with its own ledger client, as the
// storage tests do, and then SIGKILLs or decommissions a bookie.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-io/strata/bookie/audit"
	"github.com/strata-io/strata/bookie/autorecovery"
	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/bookie/registry"
	"github.com/strata-io/strata/e2e/harness"
	"github.com/strata-io/strata/internal/testenv"
	"github.com/strata-io/strata/metadata"
	"github.com/strata-io/strata/metadata/metadatatest"
)

// recoveryBound is how long re-replication may take once its delays passed: generous,
// the machine is shared.
const recoveryBound = 90 * time.Second

// autoRecoveryFlags: a dead bookie's registration goes within 2 s, its fragments move
// 1 s later, an idle open ledger is fenced 2 s after that.
var autoRecoveryFlags = []string{
	"--lease-ttl", "2s",
	"--lost-bookie-recovery-delay", "1s",
	"--open-ledger-rereplication-grace-period", "2s",
}

// recoveryCluster is an embedded etcd and n `strata bookie` processes bookie-1..n.
type recoveryCluster struct {
	*storageCluster
}

func newRecoveryCluster(t *testing.T, n int) *recoveryCluster {
	t.Helper()
	st, ep := metadatatest.Store(t, metadata.DefaultRoot)
	dir := t.TempDir()
	c := &storageCluster{t: t, dir: dir, etcd: ep, store: st, bookies: map[string]*harness.Bookie{},
		logPath: dir + "/ledger-client.log"}
	for i := 1; i <= n; i++ {
		b := harness.StartBookie(t, ep, dir, fmt.Sprintf("bookie-%d", i), autoRecoveryFlags...)
		c.bookies[b.ID] = b
	}
	return &recoveryCluster{c}
}

// writeLedgers writes n ledgers E3/Qw2/Qa2 of entries entries each (storagePayload(seed+i,
// entry) for ledger i); all but the last `open` are closed.
func (c *recoveryCluster) writeLedgers(ctx context.Context, cl *ledger.Client, seed uint64, n, open int, entries int64) []int64 {
	c.t.Helper()
	var ids []int64
	for i := range n {
		w, err := cl.Create(ctx, storageE3Q2A2)
		if err != nil {
			c.t.Fatal(err)
		}
		p := startPipeline(ctx, c.t, w, seed+uint64(i), entries, 64, nil)
		if acked, _, failures := p.wait(ctx); acked != entries || len(failures) > 0 {
			c.t.Fatalf("ledger %d: %d of %d acknowledged: %v", w.ID(), acked, entries, errors.Join(failures...))
		}
		if i < n-open {
			if err := w.Close(ctx); err != nil {
				c.t.Fatal(err)
			}
		}
		ids = append(ids, w.ID())
	}
	return ids
}

// live returns the registered bookies.
func (c *recoveryCluster) live(ctx context.Context) map[string]bool {
	c.t.Helper()
	infos, err := registry.New(c.store).Available(ctx)
	if err != nil {
		c.t.Fatal(err)
	}
	out := map[string]bool{}
	for _, in := range infos {
		out[in.ID] = true
	}
	return out
}

// waitOff polls (against recoveryBound) until no fragment of any of ids lists a bookie
// that bad accepts.
func (c *recoveryCluster) waitOff(ctx context.Context, ids []int64, what string, bad func(string) bool) {
	c.t.Helper()
	deadline := time.Now().Add(recoveryBound)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		var left []string
		for _, id := range ids {
			m := c.meta(ctx, id)
			if slices.ContainsFunc(m.Bookies(), bad) {
				left = append(left, fmt.Sprintf("ledger %d (%s): %v", id, m.State, m.Fragments))
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: still not done after %s: %s", what, recoveryBound, strings.Join(left, "; "))
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			c.t.Fatal(ctx.Err())
		}
	}
}

// checkCopies reads every entry of closed ledger id from each bookie of its write set,
// directly: Qw live copies, byte-equal to what was written.
func (c *recoveryCluster) checkCopies(ctx context.Context, cl *ledger.Client, id int64, seed uint64, live map[string]bool) {
	c.t.Helper()
	m := c.meta(ctx, id)
	if m.State != ledger.StateClosed {
		c.t.Fatalf("ledger %d is %s, want CLOSED", id, m.State)
	}
	for e := int64(0); e <= m.LastEntry; e++ {
		for _, b := range m.WriteSetBookies(e) {
			if !live[b] {
				c.t.Fatalf("ledger %d entry %d: write set member %s is not live", id, e, b)
			}
			got, err := cl.ReadEntryFrom(ctx, b, id, e)
			if err != nil {
				c.t.Fatalf("ledger %d entry %d on %s: %v", id, e, b, err)
			}
			if !bytes.Equal(got, storagePayload(seed, e)) {
				c.t.Fatalf("ledger %d entry %d on %s: wrong bytes", id, e, b)
			}
		}
	}
}

// recoveryReader reads every ledger through a ledger client, over and over, recording
// any failure: re-replication must never disturb readers.
type recoveryReader struct {
	stop, done chan struct{}
	mu         sync.Mutex
	errs       []error
	laps       int
}

func startRecoveryReader(ctx context.Context, cl *ledger.Client, ids []int64, seeds []uint64) *recoveryReader {
	r := &recoveryReader{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			for i, id := range ids {
				select {
				case <-r.stop:
					return
				default:
				}
				if err := readAllOf(ctx, cl, id, seeds[i]); err != nil {
					r.mu.Lock()
					r.errs = append(r.errs, err)
					r.mu.Unlock()
				}
			}
			r.mu.Lock()
			r.laps++
			r.mu.Unlock()
		}
	}()
	return r
}

func readAllOf(ctx context.Context, cl *ledger.Client, id int64, seed uint64) error {
	rd, err := cl.OpenReader(ctx, id)
	if err != nil {
		return err
	}
	m := rd.Metadata()
	last := m.LastEntry
	if m.State != ledger.StateClosed {
		if last, err = rd.ReadLAC(ctx); err != nil {
			return err
		}
	}
	if last < 0 {
		return nil
	}
	ents, err := rd.Read(ctx, 0, last)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !bytes.Equal(e.Payload, storagePayload(seed, e.ID)) {
			return fmt.Errorf("ledger %d entry %d: wrong bytes", id, e.ID)
		}
	}
	return nil
}

// finish waits for one more complete lap, stops the reader and fails on any error.
func (r *recoveryReader) finish(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	target := r.laps + 1
	r.mu.Unlock()
	deadline := time.Now().Add(recoveryBound)
	for {
		r.mu.Lock()
		laps, nerr := r.laps, len(r.errs)
		r.mu.Unlock()
		if laps >= target || nerr > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the reader made no lap")
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-r.done:
		}
	}
	close(r.stop)
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) > 0 {
		t.Fatalf("%d reads failed while bookies healed; first: %v", len(r.errs), r.errs[0])
	}
}

// A bookie is SIGKILLed for good — any bookie, or the one whose process hosts the
// active auto-recovery worker (the others then take over within the lease TTL). The
// worker restores Qw live copies of every fragment of the closed ledgers, and of an
// idle open ledger after fencing and recovering it, within the bound, while reads
// through a ledger client keep succeeding throughout.
func TestAutoRecoveryBookieKilled(t *testing.T) {
	for _, killLeader := range []bool{false, true} {
		name := "any-bookie"
		if killLeader {
			name = "active-worker-bookie"
		}
		t.Run(name, func(t *testing.T) { testBookieKilled(t, killLeader) })
	}
}

func testBookieKilled(t *testing.T, killLeader bool) {
	ctx, seed := testCtx(t), testenv.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 2))
	c := newRecoveryCluster(t, 4)
	cl := c.client()
	// The candidates campaign as the bookies start; one is elected at once.
	leader, err := autorecovery.Leader(ctx, c.store)
	for start := time.Now(); err != nil; leader, err = autorecovery.Leader(ctx, c.store) {
		if time.Since(start) > recoveryBound {
			t.Fatalf("no auto-recovery worker elected among the bookies: %v", err)
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	const n, entries = 5, 400
	ids := c.writeLedgers(ctx, cl, seed, n, 1, entries)
	seeds := make([]uint64, n)
	for i := range seeds {
		seeds[i] = seed + uint64(i)
	}
	victim := c.meta(ctx, ids[n-1]).Fragments[0].Ensemble[rng.IntN(3)]
	if killLeader {
		victim = leader.ID
		// Make sure it holds data: the open ledger is written again until it is on it
		// (the one left behind is not on it, so nothing waits on it).
		for i := 0; !slices.Contains(c.meta(ctx, ids[n-1]).Bookies(), victim); i++ {
			more := c.writeLedgers(ctx, cl, seed+uint64(n+i), 1, 1, entries)
			ids[n-1], seeds[n-1] = more[0], seed+uint64(n+i)
		}
	}
	t.Logf("killing %s; the active worker is %s", victim, leader.ID)

	rd := startRecoveryReader(ctx, c.client(), ids, seeds)
	killed := time.Now()
	c.bookies[victim].Kill()
	c.waitOff(ctx, ids, "re-replication off "+victim, func(b string) bool { return b == victim })
	t.Logf("every fragment off %s %s after the SIGKILL", victim, time.Since(killed).Round(time.Millisecond))
	rd.finish(t)

	live := c.live(ctx)
	if live[victim] {
		t.Fatalf("%s is still registered", victim)
	}
	for i, id := range ids {
		c.checkCopies(ctx, cl, id, seeds[i], live)
	}
	if m := c.meta(ctx, ids[n-1]); m.LastEntry != entries-1 {
		t.Fatalf("the open ledger was recovered at %d, want %d (every acknowledged entry)", m.LastEntry, entries-1)
	}
	under, err := audit.UnderReplicated(ctx, c.store)
	if err != nil || len(under) != 0 {
		t.Fatalf("under-replicated ledgers after healing: %v, %v", under, err)
	}
	if now, err := autorecovery.Leader(ctx, c.store); err != nil || now.ID == victim {
		t.Fatalf("active worker after the kill: %+v, %v", now, err)
	}
}

// `strata admin bookies decommission` of a live bookie, through a broker's admin API:
// the command waits until no ledger metadata lists the bookie and says so; every entry
// is then on Qw bookies that are not it. The bookie stays up until the operator stops
// it.
func TestAutoRecoveryDecommission(t *testing.T) {
	ctx, seed := testCtx(t), testenv.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 3))
	c := newRecoveryCluster(t, 4)
	cl := c.client()
	const n, entries = 4, 300
	ids := c.writeLedgers(ctx, cl, seed, n, 0, entries)
	seeds := make([]uint64, n)
	for i := range seeds {
		seeds[i] = seed + uint64(i)
	}
	target := c.meta(ctx, ids[0]).Fragments[0].Ensemble[rng.IntN(3)]

	httpAddr := harness.FreePort(t)
	harness.Start(t, harness.ProcessConfig{Name: "broker", LogDir: c.dir, Ready: "broker listening on",
		Args: []string{"broker", "--etcd", c.etcd, "--listen", harness.FreePort(t), "--http", httpAddr,
			"--ensemble-size", "3", "--write-quorum", "2", "--ack-quorum", "2"}})
	adminURL := "http://" + httpAddr

	out, code := harness.RunToExit(t, time.Minute, "admin", "--admin-url", adminURL, "bookies", "underreplicated")
	if strings.Contains(out, "501") {
		t.Fatalf("the broker serves no bookie maintenance: broker/broker.go must pass its Store to admin.Config: %s", out)
	}
	if code != 0 || strings.TrimSpace(out) != "" {
		t.Fatalf("underreplicated before: exit %d: %s", code, out)
	}
	rd := startRecoveryReader(ctx, c.client(), ids, seeds)
	out, code = harness.RunToExit(t, 3*time.Minute, "admin", "--admin-url", adminURL,
		"bookies", "decommission", target, "--wait-timeout", recoveryBound.String(), "--poll-interval", "200ms")
	if code != 0 || !strings.Contains(out, "decommissioned") {
		t.Fatalf("strata admin bookies decommission %s: exit %d:\n%s", target, code, out)
	}
	t.Logf("decommission output:\n%s", out)
	rd.finish(t)

	// No ledger metadata lists it, reading etcd directly.
	for _, id := range ids {
		if m := c.meta(ctx, id); slices.Contains(m.Bookies(), target) {
			t.Fatalf("ledger %d still lists %s: %v", id, target, m.Fragments)
		}
	}
	on, err := audit.LedgersOn(ctx, c.store, target)
	if err != nil || len(on) != 0 {
		t.Fatalf("ledgers on %s: %v, %v", target, on, err)
	}
	live := c.live(ctx)
	if !live[target] {
		t.Fatalf("%s went down; a decommission only moves its data", target)
	}
	delete(live, target)
	for i, id := range ids {
		c.checkCopies(ctx, cl, id, seeds[i], live)
	}
	// A new ledger avoids it.
	w, err := cl.Create(ctx, storageE3Q2A2)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(w.Metadata().Bookies(), target) {
		t.Fatalf("new ledger placed on draining %s", target)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// The operator stops it; nothing becomes under-replicated.
	c.bookies[target].Stop()
	out, code = harness.RunToExit(t, time.Minute, "admin", "--admin-url", adminURL, "bookies", "underreplicated", "-o", "json")
	if code != 0 || !strings.Contains(out, `"count": 0`) {
		t.Fatalf("underreplicated after: exit %d: %s", code, out)
	}
}
