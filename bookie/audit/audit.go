// Package audit holds the read-only scans of ledger metadata against the bookie
// registry: which ledgers are under-replicated (list a bookie that is not registered)
// and which list a given bookie (a decommission is done when none does).
//
// They read etcd and nothing else, write nothing and start no goroutine, so any process
// can run them: the auto-recovery worker (bookie/autorecovery) for its audit, and a
// broker's admin API (GET /admin/v2/bookies/underreplicated, decommission status),
// which must not depend on the package that runs the worker.
package audit

import (
	"context"
	"slices"

	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/bookie/registry"
	"github.com/strata-io/strata/metadata"
)

// UnderReplicated returns, in id order, the ledgers with a fragment whose ensemble lists
// a bookie that is not registered (neither read-write nor read-only). Records that do
// not parse are skipped.
func UnderReplicated(ctx context.Context, s *metadata.Store) ([]int64, error) {
	live, err := Registered(ctx, s)
	if err != nil {
		return nil, err
	}
	var out []int64
	err = EachLedger(ctx, s, func(m *ledger.Metadata, _ int64) {
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
	err := EachLedger(ctx, s, func(m *ledger.Metadata, _ int64) {
		if slices.Contains(m.Bookies(), bookie) {
			out = append(out, m.ID)
		}
	})
	return out, err
}

// Registered returns the ids of the bookies registered now, read-write or read-only.
func Registered(ctx context.Context, s *metadata.Store) (map[string]bool, error) {
	vals, _, err := s.List(ctx, s.Keys.BookiesAvailable())
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(vals))
	for _, v := range vals {
		if id, ok := registry.RegistrationID(s, v.Key); ok {
			out[id] = true
		}
	}
	return out, nil
}

// EachLedger calls f with every ledger's metadata and ModRevision, in id order.
// Records that do not parse are skipped: not ours to judge; the ledger client refuses
// them too.
func EachLedger(ctx context.Context, s *metadata.Store, f func(m *ledger.Metadata, rev int64)) error {
	vals, _, err := s.List(ctx, s.Keys.Ledgers())
	if err != nil {
		return err
	}
	for _, v := range vals {
		m, err := ledger.UnmarshalMetadata(v.Data)
		if err != nil {
			continue
		}
		f(m, v.ModRevision)
	}
	return nil
}
