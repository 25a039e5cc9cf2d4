package ledger

import (
	"errors"
	"fmt"

	bookiev1 "github.com/strata-io/strata/proto/bookie/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Sentinels. Every error the client returns wraps one of these (or a bookie/etcd error)
// with %w and names the ledger, e.g. "ledger 42: ledger: fenced".
var (
	// ErrFenced: another client opened the ledger with recovery (or the bookies refused
	// the add as fenced). The writer accepts no more entries; an add that failed with it
	// may or may not be in the ledger — recovery decides.
	ErrFenced = errors.New("ledger: fenced")
	// ErrClosed: the ledger (or the writer) is closed; no more adds.
	ErrClosed = errors.New("ledger: closed")
	// ErrNotEnoughBookies: fewer writable bookies than the ensemble (or a replacement)
	// needs.
	ErrNotEnoughBookies = errors.New("ledger: not enough bookies")
	// ErrRecoveryCoverage: recovery could not hear from enough bookies to decide safely
	// (fencing coverage or an entry's presence). The ledger is left IN_RECOVERY; retry
	// OpenRecover once bookies are back.
	ErrRecoveryCoverage = errors.New("ledger: recovery cannot reach enough bookies")
	// ErrNoSuchLedger: there is no metadata for the ledger id.
	ErrNoSuchLedger = errors.New("ledger: no such ledger")
	// ErrReadBeyondLast: a read past the last entry of a closed ledger or past the LAC of
	// an open one.
	ErrReadBeyondLast = errors.New("ledger: read beyond last confirmed entry")
	// ErrEntryUnreadable: no replica of an entry returned valid data.
	ErrEntryUnreadable = errors.New("ledger: entry unreadable on every replica")
	// ErrMetadataConflict: the metadata changed under an operation in a way it cannot
	// reconcile (e.g. another recoverer changed the ensemble); retry the operation.
	ErrMetadataConflict = errors.New("ledger: metadata changed concurrently")
	// ErrRejected: a bookie refused an add for a reason that would repeat on any bookie
	// (entry too large, invalid request, different bytes already stored). The writer
	// stops: entry ids are dense, so it cannot skip the entry.
	ErrRejected = errors.New("ledger: add rejected by bookie")
	// ErrClientClosed: the Client was closed under the operation.
	ErrClientClosed = errors.New("ledger: client closed")
)

// ledgerErr wraps err with the ledger id.
func ledgerErr(id int64, err error) error {
	return fmt.Errorf("ledger %d: %w", id, err)
}

// addOutcome is how a writer reacts to a failed add.
type addOutcome int

const (
	// outcomeBookieFailed: the bookie is unusable for this ledger (transport failure,
	// unavailable, read-only, timeout, checksum mismatch in flight...): replace it.
	outcomeBookieFailed addOutcome = iota
	// outcomeFenced: LEDGER_FENCED — the ledger is being recovered; stop writing.
	outcomeFenced
	// outcomeRejected: would fail the same way on any bookie; stop writing.
	outcomeRejected
)

// classifyAddError maps an AddEntries error to the writer's reaction. Like BookKeeper,
// anything not known to be fatal for the ledger is treated as a bookie failure, which
// triggers an ensemble change.
func classifyAddError(err error) addOutcome {
	switch bookiev1.ReasonOf(err) {
	case bookiev1.ReasonLedgerFenced:
		return outcomeFenced
	case bookiev1.ReasonEntryTooLarge, bookiev1.ReasonInvalidArgument, bookiev1.ReasonDuplicateEntry:
		return outcomeRejected
	}
	return outcomeBookieFailed
}

// isNegative reports whether a read error is an explicit "this bookie does not have
// it" (NO_SUCH_ENTRY / NO_SUCH_LEDGER): the only answers that count toward declaring an
// entry missing or a bookie known during fencing. Everything else — transport errors,
// timeouts, corrupt replicas — is "unknown".
func isNegative(err error) bool {
	switch bookiev1.ReasonOf(err) {
	case bookiev1.ReasonNoSuchEntry, bookiev1.ReasonNoSuchLedger:
		return true
	}
	return false
}

// isUnreachable reports a call that never reached a bookie (no connection, connection
// refused or cut), as opposed to a bookie's own answer.
func isUnreachable(err error) bool {
	return bookiev1.ReasonOf(err) == "" && status.Code(err) == codes.Unavailable
}
