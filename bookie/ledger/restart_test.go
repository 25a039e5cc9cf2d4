package ledger_test

import (
	"errors"
	"testing"
	"time"

	"github.com/strata-io/strata/bookie/bookietest"
	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/bookie/registry"
	"github.com/strata-io/strata/internal/testenv"
)

// Two bookies crash without unregistering (their registrations linger at the old
// addresses until their leases expire, as after a SIGKILL) and come back on new ports.
// Recovery while they are down fails with ErrRecoveryCoverage and leaves the client's
// channels in TRANSIENT_FAILURE on the old addresses — which gRPC's pick_first keeps
// reporting until a new connection is READY. The same client's next recovery must reach
// the bookies at their new addresses at once: the retry after the registry lookup waits
// for the channel to connect instead of failing fast with the old address's error.
// (e2e TestStorageRecoveryTwoBookiesDown is the same with real processes.)
func TestRecoveryReachesBookiesRestartedElsewhere(t *testing.T) {
	ctx, rng := testCtx(t), testenv.Rand(t)
	c := bookietest.Start(t, "/ledgertest", 3)
	id, payloads := writeAndAbandon(ctx, t, c, rng, 50, "b1", "b2", "b3")
	reg := registry.New(c.Store)
	for _, b := range []string{"b2", "b3"} {
		addr := c.Bookie(b).Addr()
		c.StopBookie(b)
		lease, err := c.Store.GrantLease(ctx, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(lease.Stop)
		if err := reg.Register(ctx, registry.Info{ID: b, Address: addr}, lease); err != nil {
			t.Fatal(err)
		}
	}
	cl := c.NewClient()
	if _, err := cl.OpenRecover(ctx, id); !errors.Is(err, ledger.ErrRecoveryCoverage) {
		t.Fatalf("recovery with b2 and b3 down: %v, want ErrRecoveryCoverage", err)
	}
	c.StartBookie("b2")
	c.StartBookie("b3")
	m, err := cl.OpenRecover(ctx, id)
	if err != nil {
		t.Fatalf("recovery once b2 and b3 are back on new ports: %v", err)
	}
	if m.State != ledger.StateClosed || m.LastEntry != 49 {
		t.Fatalf("recovered: state %s last %d", m.State, m.LastEntry)
	}
	r, err := cl.OpenReader(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Read(ctx, 0, 49)
	if err != nil {
		t.Fatal(err)
	}
	checkEntries(t, got, 0, payloads)
}
