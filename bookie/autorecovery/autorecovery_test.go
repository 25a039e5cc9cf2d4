package autorecovery_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/strata-io/strata/bookie/audit"
	"github.com/strata-io/strata/bookie/autorecovery"
	"github.com/strata-io/strata/bookie/bookietest"
	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/bookie/registry"
	"github.com/strata-io/strata/internal/testenv"
	"github.com/strata-io/strata/metadata"
)

// A bookie of closed E3/Qw2/Qa2 ledgers on 4 bookies stops for good. Within the bound
// every fragment lists only live bookies and every entry is on Qw live bookies — read
// from each member of its write set directly — while reads through the ledger client
// never fail. The metrics say what happened.
func TestClosedLedgersLostBookie(t *testing.T) {
	ctx := testCtx(t)
	rng := testenv.Rand(t)
	c := bookietest.Start(t, "/artest", 4)
	var ids []int64
	for i := range 3 {
		w := writeLedger(ctx, t, c.Ledgers, 3, 2, 2, int64(150+50*i), false)
		ids = append(ids, w.ID())
	}
	// An empty closed ledger too: its only fragment holds no entry but still lists bookies.
	ids = append(ids, writeLedger(ctx, t, c.Ledgers, 3, 2, 2, 0, false).ID())
	reg := prometheus.NewRegistry()
	w := startWorker(t, c, "w1", func(cfg *autorecovery.Config) { cfg.Metrics = reg; cfg.Seed = rng.Uint64() })
	eventually(t, bound, "worker elected", func() (bool, string) { return w.Active(), "not active" })

	victim := meta(ctx, t, c.Ledgers, ids[0]).Fragments[0].Ensemble[rng.IntN(3)]
	onVictim := 0
	for _, id := range ids {
		if slices.Contains(meta(ctx, t, c.Ledgers, id).Bookies(), victim) {
			onVictim++
		}
	}
	rd := startReader(ctx, t, c.NewClient(), ids)
	if err := c.Bookie(victim).Close(); err != nil {
		t.Fatal(err)
	}
	live := liveBookies(ctx, t, c)
	if live[victim] {
		t.Fatalf("%s still registered after Close", victim)
	}
	for _, id := range ids {
		eventually(t, bound, fmt.Sprintf("ledger %d off %s", id, victim), func() (bool, string) {
			return onlyOn(ctx, t, c.Ledgers, id, func(b string) bool { return live[b] })
		})
	}
	rd.finish(t)
	for _, id := range ids {
		checkCopies(ctx, t, c.Ledgers, id)
	}
	under, err := audit.UnderReplicated(ctx, c.Store)
	if err != nil || len(under) != 0 {
		t.Fatalf("under-replicated after healing: %v, %v", under, err)
	}
	// The counter moves just after the CAS the loop above saw.
	eventually(t, bound, "fragments counted", func() (bool, string) {
		st := w.Stats()
		return st.FragmentsReplicated == int64(onVictim), fmt.Sprintf("%+v, want %d fragments replicated (one per ledger on %s)", st, onVictim, victim)
	})
	st := w.Stats()
	if st.EntriesLost != 0 {
		t.Fatalf("stats %+v: entries lost", st)
	}
	eventually(t, bound, "gauges", func() (bool, string) {
		a := gauge(t, reg, "bookie_autorecovery_active")
		u := gauge(t, reg, "bookie_autorecovery_under_replicated_ledgers")
		f := gauge(t, reg, "bookie_autorecovery_fragments_replicated_total")
		return a == 1 && u == 0 && f == float64(st.FragmentsReplicated), fmt.Sprintf("active %v under %v fragments %v", a, u, f)
	})
}

// gauge returns the value of a gauge or counter series without labels in reg.
func gauge(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			m := mf.GetMetric()[0]
			return m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no series %s", name)
	return 0
}

// An open ledger whose writer is alive: after the bookie dies the writer moves on (an
// ensemble change at its next add), which leaves the bookie in a closed, non-last
// fragment — re-replicated while the ledger stays open and the writer keeps writing.
// A second open ledger, idle, keeps the bookie in its last fragment: it is fenced and
// recovered only after the grace period, then re-replicated; its writer learns it
// was fenced.
func TestOpenLedgers(t *testing.T) {
	ctx := testCtx(t)
	rng := testenv.Rand(t)
	c := bookietest.Start(t, "/artest", 5)
	const grace = 4 * time.Second
	active := writeLedger(ctx, t, c.Ledgers, 3, 2, 2, 100, true)
	ens := active.Metadata().Fragments[0].Ensemble
	victim := ens[rng.IntN(3)]
	// The idle ledger is placed so that it also uses the victim.
	var idle *ledger.Writer
	for idle == nil {
		w := writeLedger(ctx, t, c.Ledgers, 3, 2, 2, 60, true)
		if slices.Contains(w.Metadata().Fragments[0].Ensemble, victim) {
			idle = w
		} else if err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	w := startWorker(t, c, "w1", func(cfg *autorecovery.Config) {
		cfg.OpenLedgerRereplicationGracePeriod = grace
		cfg.Seed = rng.Uint64()
	})
	eventually(t, bound, "worker elected", func() (bool, string) { return w.Active(), "not active" })

	// Watch the idle ledger's state to see when it is fenced.
	fencedAt := make(chan time.Time, 1)
	wctx, stopWatch := contextWithCancel(ctx)
	defer stopWatch()
	events := c.Store.Watch(wctx, c.Store.Keys.Ledger(idle.ID()), 0)
	go func() {
		for ev := range events {
			if ev.Type != metadata.EventPut {
				continue
			}
			if m, err := ledger.UnmarshalMetadata(ev.Value.Data); err == nil && m.State != ledger.StateOpen {
				select {
				case fencedAt <- time.Now():
				default:
				}
			}
		}
	}()

	stopped := time.Now()
	if err := c.Bookie(victim).Close(); err != nil {
		t.Fatal(err)
	}
	live := liveBookies(ctx, t, c)
	// The active writer writes on: its adds to the victim fail and it changes ensemble.
	appendN(ctx, t, active, 100, 50)
	eventually(t, bound, "active ledger's closed fragment off the victim", func() (bool, string) {
		return onlyOn(ctx, t, c.Ledgers, active.ID(), func(b string) bool { return live[b] })
	})
	if m := meta(ctx, t, c.Ledgers, active.ID()); m.State != ledger.StateOpen || len(m.Fragments) < 2 {
		t.Fatalf("active ledger: %s with fragments %v; want OPEN with an ensemble change", m.State, m.Fragments)
	}
	// The writer was not disturbed: it writes and closes.
	appendN(ctx, t, active, 150, 50)
	if err := active.Close(ctx); err != nil {
		t.Fatalf("close the active ledger after its fragment moved: %v", err)
	}
	checkCopies(ctx, t, c.Ledgers, active.ID())

	// The idle ledger: fenced only after delay + grace, then closed with every entry
	// and moved off the victim.
	select {
	case at := <-fencedAt:
		if min := time.Second + grace; at.Sub(stopped) < min {
			t.Fatalf("idle open ledger fenced %s after the bookie stopped; the grace period is %s", at.Sub(stopped), min)
		}
	case <-time.After(bound):
		t.Fatal("idle open ledger never fenced")
	}
	eventually(t, bound, "idle ledger off the victim", func() (bool, string) {
		return onlyOn(ctx, t, c.Ledgers, idle.ID(), func(b string) bool { return live[b] })
	})
	if m := meta(ctx, t, c.Ledgers, idle.ID()); m.State != ledger.StateClosed || m.LastEntry != 59 {
		t.Fatalf("idle ledger: %s at %d, want CLOSED at 59", m.State, m.LastEntry)
	}
	checkCopies(ctx, t, c.Ledgers, idle.ID())
	if _, err := idle.Append(ctx, []byte("late")); !errors.Is(err, ledger.ErrFenced) && !errors.Is(err, ledger.ErrClosed) {
		t.Fatalf("the idle writer's next add: %v, want fenced", err)
	}
}

// Two candidates: exactly one acts. When the active one's lease is revoked, the other
// takes over, and does the work; the first campaigns again with a new lease and leads
// once the second is gone.
func TestElection(t *testing.T) {
	ctx := testCtx(t)
	rng := testenv.Rand(t)
	c := bookietest.Start(t, "/artest", 5)
	w1 := startWorker(t, c, "w1", func(cfg *autorecovery.Config) { cfg.Seed = rng.Uint64() })
	w2 := startWorker(t, c, "w2", func(cfg *autorecovery.Config) { cfg.Seed = rng.Uint64() })
	byID := map[string]*autorecovery.Worker{"w1": w1, "w2": w2}
	leader := func() (*autorecovery.Worker, *autorecovery.Worker, autorecovery.LeaderRecord, int64) {
		t.Helper()
		v, err := c.Store.Get(ctx, autorecovery.LeaderKey(c.Store))
		if err != nil {
			t.Fatal(err)
		}
		rec, err := autorecovery.Leader(ctx, c.Store)
		if err != nil {
			t.Fatal(err)
		}
		a := byID[rec.ID]
		other := w1
		if a == w1 {
			other = w2
		}
		return a, other, rec, v.Lease
	}
	oneActive := func() (bool, string) {
		n := 0
		for _, w := range byID {
			if w.Active() {
				n++
			}
		}
		_, err := autorecovery.Leader(ctx, c.Store)
		return n == 1 && err == nil, fmt.Sprintf("%d active, leader key: %v", n, err)
	}
	eventually(t, bound, "one worker elected", oneActive)
	first, second, rec, lease1 := leader()
	if !first.Active() || second.Active() {
		t.Fatalf("leader key names %s, but active: w1=%v w2=%v", rec.ID, w1.Active(), w2.Active())
	}

	// Only the active one acts.
	l1 := writeLedger(ctx, t, c.Ledgers, 3, 2, 2, 80, false)
	v1 := l1.Metadata().Fragments[0].Ensemble[0]
	if err := c.Bookie(v1).Close(); err != nil {
		t.Fatal(err)
	}
	live := liveBookies(ctx, t, c)
	eventually(t, bound, "ledger 1 healed", func() (bool, string) {
		return onlyOn(ctx, t, c.Ledgers, l1.ID(), func(b string) bool { return live[b] })
	})
	// (The counter moves just after the CAS the poll above saw.)
	eventually(t, bound, "the leader counted it", func() (bool, string) {
		return first.Stats().FragmentsReplicated >= 1, fmt.Sprintf("leader %+v", first.Stats())
	})
	if second.Stats().FragmentsReplicated != 0 {
		t.Fatalf("the standby replicated: %+v", second.Stats())
	}

	// Kill the leader's lease: the standby takes over.
	if _, err := c.Store.Client().Revoke(ctx, clientv3.LeaseID(lease1)); err != nil {
		t.Fatal(err)
	}
	eventually(t, bound, "standby took over", func() (bool, string) {
		ok, why := oneActive()
		return ok && second.Active(), why
	})
	if a, _, rec, lease2 := leader(); a != second || lease2 == lease1 {
		t.Fatalf("after the revoke the key names %s under lease %x (old %x)", rec.ID, lease2, lease1)
	}
	before := first.Stats().FragmentsReplicated
	l2 := writeLedger(ctx, t, c.Ledgers, 3, 2, 2, 80, false)
	v2 := l2.Metadata().Fragments[0].Ensemble[1]
	if err := c.Bookie(v2).Close(); err != nil {
		t.Fatal(err)
	}
	live = liveBookies(ctx, t, c)
	for _, id := range []int64{l1.ID(), l2.ID()} { // ledger 1 may be on the second victim too
		eventually(t, bound, fmt.Sprintf("ledger %d healed", id), func() (bool, string) {
			return onlyOn(ctx, t, c.Ledgers, id, func(b string) bool { return live[b] })
		})
	}
	eventually(t, bound, "the new leader counted it", func() (bool, string) {
		return second.Stats().FragmentsReplicated >= 1, fmt.Sprintf("new leader %+v", second.Stats())
	})
	if first.Stats().FragmentsReplicated != before {
		t.Fatalf("after the takeover the old leader replicated: %+v (had %d)", first.Stats(), before)
	}
	checkCopies(ctx, t, c.Ledgers, l1.ID())
	checkCopies(ctx, t, c.Ledgers, l2.ID())

	// The first campaigned again (with a new lease): it leads once the second is gone.
	second.Close()
	eventually(t, bound, "first leads again", func() (bool, string) { return first.Active(), "not active" })
	if _, _, rec, lease3 := leader(); rec.ID != byIDName(byID, first) || lease3 == lease1 {
		t.Fatalf("leader %s under lease %x; the revoked one was %x", rec.ID, lease3, lease1)
	}
}

func byIDName(m map[string]*autorecovery.Worker, w *autorecovery.Worker) string {
	for id, x := range m {
		if x == w {
			return id
		}
	}
	return ""
}

// Decommission: a live bookie marked draining gets no new ensembles, and the worker
// moves every fragment off it — closed ledgers at once, an idle open ledger's last
// fragment after the grace period (fenced and recovered) — reading from it as it is
// alive. Afterwards no ledger metadata lists it.
func TestDecommission(t *testing.T) {
	ctx := testCtx(t)
	rng := testenv.Rand(t)
	c := bookietest.Start(t, "/artest", 4)
	var ids []int64
	for range 4 {
		ids = append(ids, writeLedger(ctx, t, c.Ledgers, 3, 2, 2, 90, false).ID())
	}
	open := writeLedger(ctx, t, c.Ledgers, 3, 2, 2, 40, true)
	ids = append(ids, open.ID())
	w := startWorker(t, c, "w1", func(cfg *autorecovery.Config) { cfg.Seed = rng.Uint64() })
	eventually(t, bound, "worker elected", func() (bool, string) { return w.Active(), "not active" })

	// The bookie to decommission holds the idle open ledger's last fragment.
	target := open.Metadata().Fragments[0].Ensemble[rng.IntN(3)]
	reg := registry.New(c.Store)
	if err := reg.SetDraining(ctx, "nope"); !errors.Is(err, registry.ErrUnknownBookie) {
		t.Fatalf("draining an unknown bookie: %v", err)
	}
	if err := reg.SetDraining(ctx, target); err != nil {
		t.Fatal(err)
	}
	if err := reg.SetDraining(ctx, target); err != nil {
		t.Fatalf("marking a draining bookie again: %v", err)
	}
	// New ensembles avoid it: with 4 bookies and E3 that leaves exactly the other three.
	writable, err := reg.Writable(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(writable, func(in registry.Info) bool { return in.ID == target }) {
		t.Fatalf("draining %s is still writable: %v", target, writable)
	}
	for range 5 {
		nw := writeLedger(ctx, t, c.Ledgers, 3, 2, 2, 5, false)
		if slices.Contains(nw.Metadata().Bookies(), target) {
			t.Fatalf("new ledger %d placed on draining %s: %v", nw.ID(), target, nw.Metadata().Fragments)
		}
	}
	rd := startReader(ctx, t, c.NewClient(), ids)
	eventually(t, bound, "no ledger on "+target, func() (bool, string) {
		on, err := audit.LedgersOn(ctx, c.Store, target)
		return err == nil && len(on) == 0, fmt.Sprintf("ledgers on it: %v (%v)", on, err)
	})
	rd.finish(t)
	for _, id := range ids {
		checkCopies(ctx, t, c.Ledgers, id)
	}
	if st := w.Stats(); st.EntriesLost != 0 {
		t.Fatalf("entries lost in a decommission: %+v", st)
	}
	if m := meta(ctx, t, c.Ledgers, open.ID()); m.State != ledger.StateClosed || m.LastEntry != 39 {
		t.Fatalf("the open ledger on %s: %s at %d, want recovered (CLOSED at 39)", target, m.State, m.LastEntry)
	}
	// The bookie is still up and registered; only its ledgers moved.
	if !liveBookies(ctx, t, c)[target] {
		t.Fatalf("%s was unregistered", target)
	}
}

// Both replicas of some entries are gone (two bookies of an E3/Qw2 ensemble): those
// entries are counted lost — exactly once each — and not invented; the fragments that
// hold them stay listed on their missing bookies, and the ledger stays under-replicated.
func TestLostEntries(t *testing.T) {
	ctx := testCtx(t)
	rng := testenv.Rand(t)
	c := bookietest.Start(t, "/artest", 5)
	const n = 60
	l := writeLedger(ctx, t, c.Ledgers, 3, 2, 2, n, false)
	ens := l.Metadata().Fragments[0].Ensemble
	w := startWorker(t, c, "w1", func(cfg *autorecovery.Config) { cfg.Seed = rng.Uint64() })
	eventually(t, bound, "worker elected", func() (bool, string) { return w.Active(), "not active" })
	// Positions 0 and 1 go: entries with write set {0,1} — e mod 3 == 0 — have no copy.
	for _, b := range ens[:2] {
		if err := c.Bookie(b).Close(); err != nil {
			t.Fatal(err)
		}
	}
	var want int64
	for e := int64(0); e < n; e++ {
		if ws := ledger.WriteSet(e, 3, 2); slices.Contains(ws, 0) && slices.Contains(ws, 1) {
			want++
		}
	}
	eventually(t, bound, "lost entries counted", func() (bool, string) {
		return w.Stats().EntriesLost >= want, fmt.Sprintf("%+v, want %d lost", w.Stats(), want)
	})
	// A registry change makes the worker try again; the count does not move.
	c.StartBookie("b6")
	eventually(t, bound, "audit after the new bookie", func() (bool, string) {
		under, err := audit.UnderReplicated(ctx, c.Store)
		return err == nil && slices.Contains(under, l.ID()) && w.Stats().UnderReplicated == 1,
			fmt.Sprintf("under-replicated %v (%v), stats %+v", under, err, w.Stats())
	})
	if got := w.Stats().EntriesLost; got != want {
		t.Fatalf("entries lost = %d, want %d (each once)", got, want)
	}
	m := meta(ctx, t, c.Ledgers, l.ID())
	if !slices.Contains(m.Bookies(), ens[0]) || !slices.Contains(m.Bookies(), ens[1]) {
		t.Fatalf("fragments with lost entries were switched anyway: %v", m.Fragments)
	}
	// Nothing invented: the surviving replica still answers only for what it has.
	for e := int64(0); e < n; e++ {
		for _, b := range m.WriteSetBookies(e) {
			if b == ens[0] || b == ens[1] {
				continue
			}
			if got, err := c.Ledgers.ReadEntryFrom(ctx, b, l.ID(), e); err == nil && string(got) != string(payload(l.ID(), e)) {
				t.Fatalf("entry %d on %s: %q", e, b, got)
			}
		}
	}
}
