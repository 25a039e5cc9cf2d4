package managedledger

import (
	"context"
	"errors"
	"fmt"

	"github.com/strata-io/strata/bookie/ledger"
)

// entryReader reads the entries of one ledger of the log. Every read of the log's
// entries — ReadEntries and the read-ahead (readahead.go) — reaches storage through
// one, and openEntryReader alone decides which implementation serves a ledger, from
// the ledger's record (LedgerInfo). Today that is always its bookies (bookieReader);
// tiered storage adds a reader for ledgers whose record says they are offloaded, in
// openEntryReader and nowhere else.
type entryReader interface {
	// Read returns entries first..last of the ledger, in order, starting at first: all
	// of them, or — from a ledger still being written, whose storage may learn late
	// that later entries were acknowledged — at least entry first. Callers ask only for
	// entries they know were acknowledged (≤ LastConfirmed).
	Read(ctx context.Context, first, last int64) ([]ledger.Entry, error)
}

// openEntryReader opens the reader of ledger li. This is the one place that maps a
// ledger's record to where its entries are read from.
func (ml *ManagedLedger) openEntryReader(ctx context.Context, li LedgerInfo) (entryReader, error) {
	if li.Offload.Complete() && ml.offloadedReader != nil {
		return ml.offloadedReader(ctx, li)
	}
	// Not offloaded, or offloaded with no reader for it configured: the bookies still
	// hold a ledger until its offload completed and the offloader deleted it there.
	r, err := ml.lc.OpenReader(ctx, li.ID)
	if err != nil {
		return nil, fmt.Errorf("managedledger %s: open ledger %d: %w", ml.name, li.ID, err)
	}
	return bookieReader{r}, nil
}

// bookieReader reads a ledger from its bookies.
type bookieReader struct{ r *ledger.Reader }

// Read reads first..last. A reader's view of a ledger can lag: the ledger may have been
// closed since the reader read its metadata, and the bookies learn an open ledger's LAC
// only from later adds or the writer's idle push. So a read refused as beyond the last
// entry refreshes the metadata, then waits for the LAC to cover at least first, and
// returns what is readable (never nothing).
func (b bookieReader) Read(ctx context.Context, first, last int64) ([]ledger.Entry, error) {
	ents, err := b.r.Read(ctx, first, last)
	if !errors.Is(err, ledger.ErrReadBeyondLast) {
		return ents, err
	}
	if err := b.r.Refresh(ctx); err != nil {
		return nil, err
	}
	if ents, err = b.r.Read(ctx, first, last); !errors.Is(err, ledger.ErrReadBeyondLast) {
		return ents, err
	}
	lac, err := b.r.WaitLAC(ctx, first-1)
	if err != nil {
		return nil, err
	}
	return b.r.Read(ctx, first, min(last, lac))
}

// readLedger reads entries first..last of ledger id, which the caller knows were
// acknowledged, through the ledger's (cached) entry reader.
func (ml *ManagedLedger) readLedger(ctx context.Context, id, first, last int64) ([]ledger.Entry, error) {
	r, err := ml.reader(ctx, id)
	if err != nil {
		return nil, err
	}
	return r.Read(ctx, first, last)
}

// reader returns ledger id's entry reader, opened once and cached while the ledger is
// in the list.
func (ml *ManagedLedger) reader(ctx context.Context, id int64) (entryReader, error) {
	ml.mu.Lock()
	r, ok := ml.readers[id]
	li := LedgerInfo{ID: id}
	if l := ml.ledgerLocked(id); l != nil {
		li = l.clone()
	}
	ml.mu.Unlock()
	if ok {
		return r, nil
	}
	r, err := ml.openEntryReader(ctx, li)
	if err != nil {
		return nil, err
	}
	ml.mu.Lock()
	if prev, ok := ml.readers[id]; ok {
		r = prev
	} else if ml.ledgerLocked(id) != nil {
		// Only ledgers still in the list are kept: trimming forgets the readers of the
		// ledgers it deletes, and a read racing it must not bring one back.
		ml.readers[id] = r
	}
	ml.mu.Unlock()
	return r, nil
}
