package managedledger

import (
	"context"
	"errors"

	"github.com/strata-io/strata/bookie/ledger"
)

// entryReader reads the entries of one ledger of the log. Every read of the log's
// entries — ReadEntries and the read-ahead (readahead.go) — reaches storage through
// one, and openEntryReader alone decides which implementation serves a ledger, from
// the ledger's record (LedgerInfo): its bookies (bookieReader) or, for an offloaded
// ledger, the object store (tieredReader, tieredFirst: offloadread.go).
type entryReader interface {
	// Read returns entries first..last of the ledger, in order, starting at first: all
	// of them, or — from a ledger still being written, whose storage may learn late
	// that later entries were acknowledged — at least entry first. Callers ask only for
	// entries they know were acknowledged (≤ LastConfirmed).
	Read(ctx context.Context, first, last int64) ([]ledger.Entry, error)
}

// openEntryReader opens the reader of ledger li. This is the one place that maps a
// ledger's record to where its entries are read from (offloadread.go):
//   - offloaded, bookie copy deleted: the object store only;
//   - offloaded, TIERED_STORAGE_FIRST (the default): the store, falling back to the
//     bookies on an error;
//   - offloaded, BookkeeperFirst, or not offloaded (or only begun): the bookies.
func (ml *ManagedLedger) openEntryReader(ctx context.Context, li LedgerInfo) (entryReader, error) {
	o := li.Offload
	if o.Complete() && (ml.off != nil || ml.offloadedReader != nil) {
		if o.BookieDeleted {
			return ml.openTiered(ctx, li)
		}
		if !ml.offloadPolicy().BookkeeperFirst {
			return &tieredFirst{ml: ml, li: li}, nil
		}
	}
	// The bookies hold a ledger until its offload completed and the deletion lag passed.
	return ml.bookieReaderOf(ctx, li.ID)
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
	} else if cur := ml.ledgerLocked(id); cur != nil && sameRoute(cur.Offload, li.Offload) {
		// Only ledgers still in the list are kept: trimming forgets the readers of the
		// ledgers it deletes, and a read racing it must not bring one back. Likewise a
		// reader opened for an offload state that changed meanwhile (completed, bookie
		// copy deleted) serves this read only.
		ml.readers[id] = r
	}
	ml.mu.Unlock()
	return r, nil
}

// sameRoute reports whether two offload states route reads alike (openEntryReader).
func sameRoute(a, b *OffloadState) bool {
	if !a.Complete() || !b.Complete() {
		return a.Complete() == b.Complete()
	}
	return a.UUID == b.UUID && a.BookieDeleted == b.BookieDeleted
}
