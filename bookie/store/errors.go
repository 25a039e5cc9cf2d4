package store

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed: the store is closed or closing; the op was not applied.
	ErrClosed = errors.New("store: closed")
	// ErrFailed: an earlier write failed (e.g. an fsync error); after that the store
	// cannot know what is durable and refuses every further write.
	ErrFailed = errors.New("store: failed after a write error")
	// ErrFenced: a normal add to a fenced ledger.
	ErrFenced = errors.New("store: ledger fenced")
	// ErrDuplicateEntry: the entry is already stored with different bytes.
	ErrDuplicateEntry = errors.New("store: entry exists with different bytes")
	// ErrBadChecksum: the payload does not match the CRC32C the writer sent.
	ErrBadChecksum = errors.New("store: payload does not match its crc32c")
	// ErrNoSuchLedger: the store holds nothing of the ledger.
	ErrNoSuchLedger = errors.New("store: no such ledger")
	// ErrNoSuchEntry: the ledger is known but the entry is not stored here.
	ErrNoSuchEntry = errors.New("store: no such entry")
	// ErrInvalidArgument: a malformed op (negative entry id, LAC below -1, ...).
	ErrInvalidArgument = errors.New("store: invalid argument")
	// ErrUnknownFormat: the database was written in a format this build cannot read.
	ErrUnknownFormat = errors.New("store: unknown format version")
)

// CorruptEntryError reports a stored entry whose bytes fail their checksums. The entry
// must be read from another replica.
type CorruptEntryError struct {
	Ledger uint64
	Entry  int64
	Reason string // which check failed
}

func (e *CorruptEntryError) Error() string {
	return fmt.Sprintf("store: entry %d of ledger %d is corrupt: %s", e.Entry, e.Ledger, e.Reason)
}
