package ledger_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/strata-io/strata/bookie/bookietest"
	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/internal/testenv"
	"github.com/strata-io/strata/metadata"
)

// The single-bookie primitives re-replication uses: ReadEntryFrom reads one replica and
// tells "not here" (IsMissing) from other failures; WriteEntriesTo stores entries on a
// bookie outside the ensemble with recovery adds — also on a fenced ledger, again with
// the same bytes, never with different ones; CASMetadata refuses a stale revision.
func TestCopyPrimitives(t *testing.T) {
	ctx := testCtx(t)
	rng := testenv.Rand(t)
	c := bookietest.Start(t, "/ledgertest", 4)
	cl := c.NewClient()
	w, err := cl.Create(ctx, ledger.CreateOptions{EnsembleSize: 3, WriteQuorum: 2, AckQuorum: 2})
	if err != nil {
		t.Fatal(err)
	}
	payloads := make([][]byte, 20)
	for i := range payloads {
		payloads[i] = payloadFor(rng, "copy", i)
	}
	if _, err := appendAll(ctx, t, w, payloads); err != nil {
		t.Fatal(err)
	}
	// Fenced and closed by a recoverer: later copies must still be accepted.
	m, err := c.NewClient().OpenRecover(ctx, w.ID())
	if err != nil || m.LastEntry != 19 {
		t.Fatalf("recover: %+v, %v", m, err)
	}
	ens := m.Fragments[0].Ensemble
	var spare string
	for _, id := range []string{"b1", "b2", "b3", "b4"} {
		if !slices.Contains(ens, id) {
			spare = id
		}
	}
	for e := int64(0); e < 20; e++ {
		for _, b := range m.WriteSetBookies(e) {
			got, err := cl.ReadEntryFrom(ctx, b, w.ID(), e)
			if err != nil || !bytes.Equal(got, payloads[e]) {
				t.Fatalf("entry %d on %s: %q, %v", e, b, got, err)
			}
		}
	}
	if _, err := cl.ReadEntryFrom(ctx, spare, w.ID(), 0); !ledger.IsMissing(err) {
		t.Fatalf("read from a bookie without the ledger: %v, want a negative", err)
	}

	var copyOf []ledger.Entry
	for e := int64(0); e < 20; e++ {
		copyOf = append(copyOf, ledger.Entry{ID: e, Payload: payloads[e]})
	}
	for range 2 { // twice: identical entries are accepted again
		if err := cl.WriteEntriesTo(ctx, spare, w.ID(), 19, copyOf); err != nil {
			t.Fatalf("copy to %s: %v", spare, err)
		}
	}
	for e := int64(0); e < 20; e++ {
		got, err := cl.ReadEntryFrom(ctx, spare, w.ID(), e)
		if err != nil || !bytes.Equal(got, payloads[e]) {
			t.Fatalf("copied entry %d on %s: %q, %v", e, spare, got, err)
		}
	}
	bad := []ledger.Entry{{ID: 3, Payload: []byte("other bytes")}}
	if err := cl.WriteEntriesTo(ctx, spare, w.ID(), 19, bad); err == nil {
		t.Fatal("different bytes for a stored entry were accepted")
	}

	// CAS on the metadata: the current revision wins once, a stale one loses.
	cur, rev, err := cl.ReadMetadata(ctx, w.ID())
	if err != nil {
		t.Fatal(err)
	}
	next := cur.Clone()
	next.Fragments[0].Ensemble[0] = spare
	if _, err := cl.CASMetadata(ctx, next, rev); err != nil {
		t.Fatalf("CAS: %v", err)
	}
	if _, err := cl.CASMetadata(ctx, next, rev); !errors.Is(err, metadata.ErrRevisionMismatch) {
		t.Fatalf("stale CAS: %v", err)
	}
	invalid := next.Clone()
	invalid.Fragments[0].Ensemble[1] = invalid.Fragments[0].Ensemble[2]
	if _, err := cl.CASMetadata(ctx, invalid, rev); err == nil {
		t.Fatal("an ensemble listing a bookie twice was written")
	}
	if err := cl.DeleteLedgerFrom(ctx, spare, w.ID()); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.ReadEntryFrom(ctx, spare, w.ID(), 0); !ledger.IsMissing(err) {
		t.Fatalf("after DeleteLedgerFrom: %v", fmt.Sprint(err))
	}
}
