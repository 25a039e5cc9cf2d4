package audit_test

import (
	"maps"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/strata-io/strata/bookie/audit"
	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/bookie/registry"
	"github.com/strata-io/strata/internal/testenv"
	"github.com/strata-io/strata/metadata/metadatatest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Over a real embedded etcd: b1 registered read-write, b3 read-only, b2 gone; ledger 1
// on b1, 2 on b1 and b2 (second fragment), 3 on b3, and a record that does not parse.
func TestScans(t *testing.T) {
	ctx := testenv.Context(t, 30*time.Second)
	st, _ := metadatatest.Store(t, "/audittest")
	lease, err := st.GrantLease(ctx, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lease.Stop() })
	reg := registry.New(st)
	for _, in := range []registry.Info{{ID: "b1", Address: "a:1"}, {ID: "b3", Address: "a:3", ReadOnly: true}} {
		if err := reg.Register(ctx, in, lease); err != nil {
			t.Fatal(err)
		}
	}
	put := func(id int64, frags ...[]string) {
		t.Helper()
		m := &ledger.Metadata{ID: id, EnsembleSize: len(frags[0]), WriteQuorum: 1, AckQuorum: 1, State: ledger.StateClosed, LastEntry: 9}
		for i, ens := range frags {
			m.Fragments = append(m.Fragments, ledger.Fragment{FirstEntry: int64(5 * i), Ensemble: ens})
		}
		data, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Create(ctx, st.Keys.Ledger(id), data); err != nil {
			t.Fatal(err)
		}
	}
	put(1, []string{"b1"})
	put(2, []string{"b1"}, []string{"b2"})
	put(3, []string{"b3"})
	if _, err := st.Create(ctx, st.Keys.Ledger(4), []byte("not json")); err != nil {
		t.Fatal(err)
	}

	live, err := audit.Registered(ctx, st)
	if err != nil || !slices.Equal(slices.Sorted(maps.Keys(live)), []string{"b1", "b3"}) {
		t.Errorf("Registered = %v, %v; want b1, b3", live, err)
	}
	if under, err := audit.UnderReplicated(ctx, st); err != nil || !slices.Equal(under, []int64{2}) {
		t.Errorf("UnderReplicated = %v, %v; want [2]", under, err)
	}
	for bookie, want := range map[string][]int64{"b1": {1, 2}, "b2": {2}, "b3": {3}, "b9": nil} {
		if on, err := audit.LedgersOn(ctx, st, bookie); err != nil || !slices.Equal(on, want) {
			t.Errorf("LedgersOn(%s) = %v, %v; want %v", bookie, on, err, want)
		}
	}
	var seen []int64
	if err := audit.EachLedger(ctx, st, func(m *ledger.Metadata, rev int64) {
		if rev <= 0 {
			t.Errorf("ledger %d: revision %d", m.ID, rev)
		}
		seen = append(seen, m.ID)
	}); err != nil || !slices.Equal(seen, []int64{1, 2, 3}) {
		t.Errorf("EachLedger saw %v, %v; want 1, 2, 3 (the bad record skipped)", seen, err)
	}
}
