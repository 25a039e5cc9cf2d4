package ledger

import (
	"context"
	"fmt"

	bookiev1 "github.com/strata-io/strata/proto/bookie/v1"
)

// Single-bookie primitives for re-replication (bookie/autorecovery): read one replica,
// write entries to one bookie, drop a ledger from one bookie. Unlike Reader and Writer
// they address a bookie by id and do no fallback, no quorum and no metadata change: the
// caller decides what the answers mean and changes the metadata itself, by CAS.

// ReadEntryFrom reads entry `entry` of ledger id from one bookie. The payload's CRC32C
// is checked: a corrupt replica is an error, never data. IsMissing tells an explicit
// "this bookie does not have it" apart from every other failure.
func (c *Client) ReadEntryFrom(ctx context.Context, bookie string, id, entry int64) ([]byte, error) {
	payload, _, err := c.readEntry(ctx, bookie, id, entry)
	if err != nil {
		return nil, ledgerErr(id, fmt.Errorf("entry %d from bookie %s: %w", entry, bookie, err))
	}
	return payload, nil
}

// IsMissing reports an explicit negative answer to a read — NO_SUCH_ENTRY or
// NO_SUCH_LEDGER: the bookie is up and does not have the entry. Transport errors,
// timeouts and corrupt replicas are not negatives (the entry may still be there).
func IsMissing(err error) bool { return isNegative(err) }

// WriteEntriesTo stores entries of ledger id on one bookie as recovery adds — accepted
// where the ledger is fenced, and in any order — on a stream of its own, each carrying
// lac, and returns once the bookie has made every one durable, or at the first failure
// (then some may be stored and some not; writing them again is harmless, as a bookie
// accepts an identical entry it already stores). Entries must belong to the ledger and
// carry their payloads.
func (c *Client) WriteEntriesTo(ctx context.Context, bookie string, id, lac int64, entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	bc, err := c.conn(bookie)
	if err != nil {
		return ledgerErr(id, err)
	}
	st, err := bc.openPrivate()
	if err != nil {
		return ledgerErr(id, err)
	}
	defer st.close()
	in := newInbox()
	want := make(map[int64]bool, len(entries))
	for _, e := range entries {
		want[e.ID] = true
		req := &bookiev1.AddRequest{
			LedgerId: uint64(id), EntryId: e.ID, Lac: lac,
			Payload: e.Payload, Crc32C: crc32c(e.Payload), Recovery: true,
		}
		if !st.enqueue(req, in) {
			return ledgerErr(id, fmt.Errorf("write to bookie %s: stream failed", bookie))
		}
	}
	for len(want) > 0 {
		select {
		case <-ctx.Done():
			return ledgerErr(id, fmt.Errorf("write to bookie %s: %w", bookie, ctx.Err()))
		case <-in.signal:
		}
		for _, ev := range in.drain() {
			switch {
			case ev.kind == evStreamFailed:
				return ledgerErr(id, fmt.Errorf("write to bookie %s: stream failed: %w", bookie, ev.err))
			case ev.err != nil:
				return ledgerErr(id, fmt.Errorf("write entry %d to bookie %s: %w", ev.entry, bookie, ev.err))
			default:
				delete(want, ev.entry)
			}
		}
	}
	return nil
}

// DeleteLedgerFrom removes ledger id's entries from one bookie. Only for a ledger whose
// metadata is gone: a bookie holds one set of entries per ledger, whatever fragments
// of it the bookie is in.
func (c *Client) DeleteLedgerFrom(ctx context.Context, bookie string, id int64) error {
	err := c.unary(ctx, bookie, 0, func(ctx context.Context, rpc bookiev1.BookieClient) error {
		_, err := rpc.DeleteLedger(ctx, &bookiev1.DeleteLedgerRequest{LedgerId: uint64(id)})
		return err
	})
	if err != nil {
		return ledgerErr(id, fmt.Errorf("delete from bookie %s: %w", bookie, err))
	}
	return nil
}

// ReadMetadata reads a ledger's metadata and its etcd ModRevision (the base of a CAS);
// ErrNoSuchLedger when there is none.
func (c *Client) ReadMetadata(ctx context.Context, id int64) (*Metadata, int64, error) {
	return c.readMeta(ctx, id)
}

// CASMetadata writes m (m.ID's record) if its ModRevision is still rev and returns the
// new revision. metadata.ErrRevisionMismatch means it changed: read it again and decide
// again. m must be valid (Validate).
func (c *Client) CASMetadata(ctx context.Context, m *Metadata, rev int64) (int64, error) {
	if err := m.Validate(); err != nil {
		return 0, ledgerErr(m.ID, err)
	}
	newRev, err := c.casMeta(ctx, m, rev)
	if err != nil {
		return 0, ledgerErr(m.ID, err)
	}
	return newRev, nil
}
