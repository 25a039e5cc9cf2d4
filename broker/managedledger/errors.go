package managedledger

import "errors"

var (
	// ErrFenced: another broker took the topic over; this handle can no longer write.
	ErrFenced = errors.New("managedledger: fenced by a newer owner")
	// ErrClosed: the managed ledger was closed.
	ErrClosed = errors.New("managedledger: closed")
	// ErrTerminated: the topic was terminated; no more writes.
	ErrTerminated = errors.New("managedledger: terminated")
	// ErrNoEntry: a read asked for an entry that does not exist (deleted or never written).
	ErrNoEntry = errors.New("managedledger: no such entry")
)
