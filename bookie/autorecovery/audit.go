package autorecovery

import (
	"context"
	"slices"
	"strings"

	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/metadata"
)

// The audit: which ledgers list a bookie that is gone or draining. Both the worker and
// the broker's admin API (GET /admin/v2/bookies/underreplicated, decommission status)
// compute it from etcd alone, so any process can answer.

// UnderReplicated returns, in id order, the ledgers with a fragment whose ensemble lists
// a bookie that is not registered (neither read-write nor read-only). Records that do
// not parse are skipped.
func UnderReplicated(ctx context.Context, s *metadata.Store) ([]int64, error) {
	live, err := registered(ctx, s)
	if err != nil {
		return nil, err
	}
	var out []int64
	err = eachLedger(ctx, s, func(m *ledger.Metadata, _ int64) {
		if slices.ContainsFunc(m.Bookies(), func(b string) bool { return !live[b] }) {
			out = append(out, m.ID)
		}
	})
	return out, err
}

// LedgersOn returns, in id order, the ledgers with a fragment whose ensemble lists
// bookie. A decommission is complete when it is empty.
func LedgersOn(ctx context.Context, s *metadata.Store, bookie string) ([]int64, error) {
	var out []int64
	err := eachLedger(ctx, s, func(m *ledger.Metadata, _ int64) {
		if slices.Contains(m.Bookies(), bookie) {
			out = append(out, m.ID)
		}
	})
	return out, err
}

// registered returns the ids of the bookies registered now, read-write or read-only.
func registered(ctx context.Context, s *metadata.Store) (map[string]bool, error) {
	vals, _, err := s.List(ctx, s.Keys.BookiesAvailable())
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(vals))
	for _, v := range vals {
		if id, ok := registrationID(s, v.Key); ok {
			out[id] = true
		}
	}
	return out, nil
}

// registrationID parses the bookie id out of a key under BookiesAvailable.
func registrationID(s *metadata.Store, key string) (string, bool) {
	for _, p := range []string{s.Keys.BookiesReadWrite(), s.Keys.BookiesReadOnly()} {
		if id, ok := strings.CutPrefix(key, p); ok && id != "" {
			return id, true
		}
	}
	return "", false
}

// eachLedger calls f with every ledger's metadata and ModRevision, in id order.
func eachLedger(ctx context.Context, s *metadata.Store, f func(m *ledger.Metadata, rev int64)) error {
	vals, _, err := s.List(ctx, s.Keys.Ledgers())
	if err != nil {
		return err
	}
	for _, v := range vals {
		m, err := ledger.UnmarshalMetadata(v.Data)
		if err != nil {
			continue // not ours to judge; the ledger client refuses it too
		}
		f(m, v.ModRevision)
	}
	return nil
}

// fragmentSpan describes fragment i of m: its entries first..last (last < first when it
// holds none) and whether they can still change. A fragment is immutable when another
// fragment follows it (the writer moved on at the first unacknowledged entry, so every
// entry before is acknowledged) or the ledger is CLOSED; only the last fragment of a
// ledger that is OPEN or IN_RECOVERY is not.
func fragmentSpan(m *ledger.Metadata, i int) (first, last int64, immutable bool) {
	first = m.Fragments[i].FirstEntry
	closed := m.State == ledger.StateClosed
	if i+1 < len(m.Fragments) {
		last = m.Fragments[i+1].FirstEntry - 1
		if closed {
			last = min(last, m.LastEntry)
		}
		return first, last, true
	}
	if closed {
		return first, m.LastEntry, true
	}
	return first, -1, false
}

// entriesAt returns the entries of first..last stored at ensemble position pos: those
// whose write set — ledger.WriteSet, the striping the writer uses — holds pos.
func entriesAt(first, last int64, pos, ensembleSize, writeQuorum int) []int64 {
	var out []int64
	for e := first; e <= last; e++ {
		if slices.Contains(ledger.WriteSet(e, ensembleSize, writeQuorum), pos) {
			out = append(out, e)
		}
	}
	return out
}
