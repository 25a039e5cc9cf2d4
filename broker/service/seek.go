package service

import (
	"context"
	"sort"

	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/broker/wire"
)

// FindByPublishTime returns the first entry whose publish time is at or after t
// (milliseconds since the epoch), or the next position to be written when there is none.
// Publish times grow along the log (one producer's clock per entry), so this is a
// binary search with one bookie read per probe.
func (t *Topic) FindByPublishTime(ctx context.Context, ms int64) (managedledger.Position, error) {
	info := t.ml.Info()
	last := t.ml.LastConfirmed()
	type span struct{ ledger, n int64 }
	var spans []span
	var total int64
	for _, li := range info.Ledgers {
		n := li.Entries
		if li.ID == last.Ledger {
			n = last.Entry + 1
		}
		if n > 0 {
			spans = append(spans, span{li.ID, n})
			total += n
		}
	}
	at := func(i int64) managedledger.Position {
		for _, s := range spans {
			if i < s.n {
				return managedledger.Position{Ledger: s.ledger, Entry: i}
			}
			i -= s.n
		}
		return managedledger.Position{}
	}
	var firstErr error
	idx := sort.Search(int(total), func(i int) bool {
		if firstErr != nil {
			return true
		}
		p := at(int64(i))
		ents, err := t.ml.ReadEntries(ctx, p, 1)
		if err != nil {
			firstErr = err
			return true
		}
		if len(ents) == 0 {
			return true
		}
		pl, err := wire.ParsePayload(ents[0].Data)
		if err != nil || pl.Metadata == nil {
			return false // unreadable metadata: keep looking later
		}
		return int64(pl.Metadata.GetPublishTime()) >= ms
	})
	if firstErr != nil {
		return managedledger.Position{}, firstErr
	}
	if int64(idx) >= total {
		return t.ml.Next(last), nil
	}
	return at(int64(idx)), nil
}
