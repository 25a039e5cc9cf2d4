package e2e

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/internal/testenv"
)

var storageE3Q2A2 = ledger.CreateOptions{EnsembleSize: 3, WriteQuorum: 2, AckQuorum: 2}

// A bookie of the ensemble is SIGKILLed halfway through 10,000 pipelined adds. The
// writer replaces it (a new fragment in etcd from the first unacknowledged entry), every
// add is acknowledged, and a fresh client reads every entry back byte-equal with the
// dead bookie still down.
//
// The issue speaks of three bookie processes; with E=3 an ensemble change needs a
// bookie outside the ensemble to take the dead one's place, so there are four: three
// in the ensemble and one spare.
func TestStorageBookieKilledMidWrite(t *testing.T) {
	ctx, seed := testCtx(t), testenv.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 1))
	c := newStorageCluster(t, 4)
	cl := c.client()
	w, err := cl.Create(ctx, storageE3Q2A2)
	if err != nil {
		t.Fatal(err)
	}
	first := w.Metadata().Fragments[0]
	victim := first.Ensemble[rng.IntN(3)]

	const total, killAt, window = 10_000, 5_000, 128
	// Appends from killAt+window on wait for the kill, so at least total-killAt-window
	// adds are made after it: the writes really continue on the changed ensemble.
	killed := make(chan struct{})
	resume := int64(killAt + window)
	p := startPipeline(ctx, t, w, seed, total, window, map[int64]<-chan struct{}{resume: killed})
	p.waitAcked(ctx, killAt)
	p.mu.Lock()
	ackedAtKill := p.acked
	p.mu.Unlock()
	c.bookies[victim].Kill()
	close(killed)
	acked, made, failures := p.wait(ctx)
	if len(failures) > 0 || acked != total || made != total {
		t.Fatalf("after killing %s: %d of %d appends made, %d acknowledged, %d failed (first: %v)",
			victim, made, total, acked, len(failures), errors.Join(failures...))
	}
	if err := w.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}

	m := c.meta(ctx, w.ID())
	t.Logf("killed %s with %d acknowledged; fragments in etcd: %+v", victim, ackedAtKill, m.Fragments)
	if m.State != ledger.StateClosed || m.LastEntry != total-1 {
		t.Fatalf("metadata in etcd: state %s, last entry %d; want CLOSED at %d", m.State, m.LastEntry, total-1)
	}
	if len(m.Fragments) < 2 {
		t.Fatalf("no ensemble change recorded in etcd: %+v", m.Fragments)
	}
	if !slices.Contains(m.Fragments[0].Ensemble, victim) {
		t.Fatalf("first fragment %+v lost %s", m.Fragments[0], victim)
	}
	if slices.Contains(m.LastFragment().Ensemble, victim) {
		t.Fatalf("killed bookie %s still in the last fragment %+v", victim, m.LastFragment())
	}
	// The fragment that dropped the victim starts where the writer stood when it died:
	// after every entry acknowledged before the kill (acknowledged entries never move),
	// and no later than the appends that waited for the kill — give or take one: if
	// every earlier entry was acknowledged before the SIGKILL landed, entry resume may
	// avoid the victim (with E=3, Qw=2 one entry in three does), but entry resume+1
	// then cannot be acknowledged without it.
	i := slices.IndexFunc(m.Fragments, func(f ledger.Fragment) bool { return !slices.Contains(f.Ensemble, victim) })
	if f := m.Fragments[i]; f.FirstEntry < ackedAtKill || f.FirstEntry > resume+1 {
		t.Fatalf("fragment without %s starts at %d; want it in [%d, %d]", victim, f.FirstEntry, ackedAtKill, resume+1)
	}

	c.readBack(ctx, w.ID(), seed, total-1)
}

// Writer A adds continuously; client 2 opens the ledger with recovery. A's adds fail
// with ErrFenced from then on, and the recovered, CLOSED ledger holds every entry A had
// acknowledged — including acknowledgements A received after recovery began — and only
// entries A sent, each under the id A sent it with.
func TestStorageFencing(t *testing.T) {
	ctx, seed := testCtx(t), testenv.Seed(t)
	c := newStorageCluster(t, 3)
	a, err := c.client().Create(ctx, storageE3Q2A2)
	if err != nil {
		t.Fatal(err)
	}
	p := startPipeline(ctx, t, a, seed, -1, 64, nil)
	p.waitAcked(ctx, 1000)

	rm, err := c.client().OpenRecover(ctx, a.ID())
	if err != nil {
		t.Fatalf("OpenRecover: %v", err)
	}
	// A keeps appending until the fence stops it; its last acknowledgement counts only
	// once every callback has run.
	acked, made, failures := p.wait(ctx)
	t.Logf("writer A: %d appends made, %d acknowledged, %d failed; recovered last entry %d", made, acked, len(failures), rm.LastEntry)
	if len(failures) == 0 || !allAre(failures, ledger.ErrFenced) {
		t.Fatalf("A's adds after recovery failed with %v; want ErrFenced", errors.Join(failures...))
	}
	if _, err := a.Append(ctx, []byte("after the fence")); !errors.Is(err, ledger.ErrFenced) {
		t.Fatalf("A's next add: %v; want ErrFenced", err)
	}
	if err := a.Close(ctx); !errors.Is(err, ledger.ErrFenced) {
		t.Fatalf("A's close: %v; want ErrFenced", err)
	}

	if rm.State != ledger.StateClosed {
		t.Fatalf("recovered state %s", rm.State)
	}
	if rm.LastEntry < acked-1 {
		t.Fatalf("recovery closed at %d, before entry %d that A had acknowledged", rm.LastEntry, acked-1)
	}
	if rm.LastEntry >= made {
		t.Fatalf("recovery closed at %d, but A only sent entries 0..%d", rm.LastEntry, made-1)
	}
	if m := c.meta(ctx, a.ID()); m.State != ledger.StateClosed || m.LastEntry != rm.LastEntry {
		t.Fatalf("etcd says %s at %d; recovery returned CLOSED at %d", m.State, m.LastEntry, rm.LastEntry)
	}
	c.readBack(ctx, a.ID(), seed, rm.LastEntry)

	// The close is final: another recovery changes nothing, and no reader sees past it.
	again, err := c.client().OpenRecover(ctx, a.ID())
	if err != nil || again.LastEntry != rm.LastEntry {
		t.Fatalf("second recovery: %+v, %v", again, err)
	}
	r, err := c.client().OpenReader(ctx, a.ID())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(ctx, rm.LastEntry, rm.LastEntry+1); !errors.Is(err, ledger.ErrReadBeyondLast) {
		t.Fatalf("read past the last entry: %v; want ErrReadBeyondLast", err)
	}
}

// One bookie, E1/Qw1/Qa1: it is SIGKILLed with a window of adds in flight and
// restarted on its data dir. Every entry it acknowledged was durable: recovery on the
// restarted bookie keeps each of them, byte-equal, and nothing the writer did not send.
func TestStorageAckedEntrySurvivesBookieRestart(t *testing.T) {
	ctx, seed := testCtx(t), testenv.Seed(t)
	c := newStorageCluster(t, 1)
	b := c.bookies["bookie-1"]
	cl := c.client()
	w, err := cl.Create(ctx, ledger.CreateOptions{EnsembleSize: 1, WriteQuorum: 1, AckQuorum: 1})
	if err != nil {
		t.Fatal(err)
	}
	p := startPipeline(ctx, t, w, seed, -1, 128, nil)
	p.waitAcked(ctx, 2000)
	b.Kill()
	acked, made, failures := p.wait(ctx)
	t.Logf("killed with %d acknowledged of %d appends made (%d failed)", acked, made, len(failures))
	// The pipeline stops only at a failure. With the only bookie gone there is no spare
	// to replace it: the writer fails the adds in flight with ErrNotEnoughBookies.
	if len(failures) == 0 || !allAre(failures, ledger.ErrNotEnoughBookies) {
		t.Fatalf("adds in flight at the kill failed with %v; want ErrNotEnoughBookies", errors.Join(failures...))
	}
	cl.Close() // the writer's process is gone too: the ledger stays OPEN

	b.Restart()
	rm, err := c.client().OpenRecover(ctx, w.ID())
	if err != nil {
		t.Fatalf("OpenRecover after the restart: %v", err)
	}
	t.Logf("recovered last entry %d", rm.LastEntry)
	if rm.LastEntry < acked-1 || rm.LastEntry >= made {
		t.Fatalf("recovery closed at %d; entries 0..%d were acknowledged and 0..%d sent", rm.LastEntry, acked-1, made-1)
	}
	c.readBack(ctx, w.ID(), seed, rm.LastEntry)
}
