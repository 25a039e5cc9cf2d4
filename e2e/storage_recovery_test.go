package e2e

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/internal/testenv"
)

// storageAbandoned writes n entries to a new E3/Qw2/Qa2 ledger, all acknowledged, then
// abandons the writer the way a crashed broker does: its client is closed without
// closing the ledger, which stays OPEN. The writer pushes no explicit LAC, so the
// bookies' LAC stays behind entry n-1 and recovery must read the tail forward and
// re-write it. It returns the ledger id and its last ensemble.
func storageAbandoned(ctx context.Context, t *testing.T, c *storageCluster, seed uint64, n int64) (int64, *ledger.Metadata) {
	t.Helper()
	cl := c.client(noExplicitLAC)
	w, err := cl.Create(ctx, storageE3Q2A2)
	if err != nil {
		t.Fatal(err)
	}
	p := startPipeline(ctx, t, w, seed, n, 64, nil)
	if acked, _, failures := p.wait(ctx); acked != n || len(failures) > 0 {
		t.Fatalf("%d of %d acknowledged: %v", acked, n, errors.Join(failures...))
	}
	m := w.Metadata()
	cl.Close()
	if st := c.meta(ctx, w.ID()).State; st != ledger.StateOpen {
		t.Fatalf("abandoned ledger is %s, want OPEN", st)
	}
	return w.ID(), m
}

// One bookie of the ensemble is SIGKILLed after its writer died: recovery fences the
// other two (enough for every write set), closes the ledger with every acknowledged
// entry, and re-writes the unconfirmed tail to full write sets — on the spare in place
// of the dead bookie, since the victim is in the write set of the last entry. That is
// why there is a fourth bookie.
func TestStorageRecoveryOneBookieDown(t *testing.T) {
	ctx, seed := testCtx(t), testenv.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 1))
	c := newStorageCluster(t, 4)
	const n = 1000
	id, m := storageAbandoned(ctx, t, c, seed, n)
	victim := m.WriteSetBookies(n - 1)[rng.IntN(2)]
	c.bookies[victim].Kill()

	rm, err := c.client().OpenRecover(ctx, id)
	if err != nil {
		t.Fatalf("OpenRecover with %s down: %v", victim, err)
	}
	if rm.State != ledger.StateClosed || rm.LastEntry != n-1 {
		t.Fatalf("recovered: %s at %d, want CLOSED at %d", rm.State, rm.LastEntry, n-1)
	}
	em := c.meta(ctx, id)
	t.Logf("killed %s; fragments in etcd: %+v", victim, em.Fragments)
	if em.State != ledger.StateClosed || em.LastEntry != n-1 {
		t.Fatalf("etcd says %s at %d", em.State, em.LastEntry)
	}
	if len(em.Fragments) < 2 || slices.Contains(em.LastFragment().Ensemble, victim) {
		t.Fatalf("recovery's re-writes did not replace %s: fragments %+v", victim, em.Fragments)
	}
	c.readBack(ctx, id, seed, n-1)
}

// Two of three bookies are SIGKILLed: recovery cannot fence every write set, fails with
// ErrRecoveryCoverage and leaves the ledger IN_RECOVERY — never closed short. Once the
// two are restarted (on new ports, found through the registry), the same client's
// recovery closes it with every acknowledged entry.
func TestStorageRecoveryTwoBookiesDown(t *testing.T) {
	ctx, seed := testCtx(t), testenv.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 1))
	c := newStorageCluster(t, 3)
	const n = 1000
	id, m := storageAbandoned(ctx, t, c, seed, n)
	ens := slices.Clone(m.LastFragment().Ensemble)
	rng.Shuffle(len(ens), func(i, j int) { ens[i], ens[j] = ens[j], ens[i] })
	victims := ens[:2]
	for _, v := range victims {
		c.bookies[v].Kill()
	}

	cl := c.client()
	if rm, err := cl.OpenRecover(ctx, id); !errors.Is(err, ledger.ErrRecoveryCoverage) {
		t.Fatalf("OpenRecover with %v down: %+v, %v; want ErrRecoveryCoverage", victims, rm, err)
	}
	if em := c.meta(ctx, id); em.State != ledger.StateInRecovery {
		t.Fatalf("after the failed recovery etcd says %s (last entry %d); want IN_RECOVERY", em.State, em.LastEntry)
	}

	for _, v := range victims {
		c.bookies[v].Restart()
	}
	rm, err := cl.OpenRecover(ctx, id)
	if err != nil {
		t.Fatalf("OpenRecover after restarting %v: %v", victims, err)
	}
	if rm.State != ledger.StateClosed || rm.LastEntry != n-1 {
		t.Fatalf("recovered: %s at %d, want CLOSED at %d", rm.State, rm.LastEntry, n-1)
	}
	if em := c.meta(ctx, id); em.State != ledger.StateClosed || em.LastEntry != n-1 {
		t.Fatalf("etcd says %s at %d", em.State, em.LastEntry)
	}
	c.readBack(ctx, id, seed, n-1)
}
