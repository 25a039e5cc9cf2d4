package cursor

import (
	"errors"
	"fmt"
)

var (
	// ErrOutsideLayout: the acknowledged position is above mark-delete but names no entry
	// of the current layout (a bogus id, or a deleted ledger). Pulsar ignores such acks
	// silently; the caller should do the same after logging.
	ErrOutsideLayout = errors.New("cursor: position outside the topic layout")
	// ErrBadBatch: a batch-index ack with a batch size out of 1..MaxBatchSize, an index
	// outside the batch, or a size that differs from the one recorded for that entry.
	ErrBadBatch = errors.New("cursor: bad batch-index ack")
	// ErrBadLayout: a layout whose ids are not strictly increasing or whose entry counts
	// are out of range.
	ErrBadLayout = errors.New("cursor: bad layout")
	// ErrBadPosition: a reset target that is neither Earliest nor an entry position.
	ErrBadPosition = errors.New("cursor: bad position")
	// ErrCorruptSnapshot is matched (errors.Is) by every CorruptSnapshotError.
	ErrCorruptSnapshot = errors.New("cursor: corrupt snapshot")
)

// UnsupportedVersionError is returned by Unmarshal for a snapshot whose version byte this
// build does not know (written by a newer Strata, or not a cursor snapshot at all).
type UnsupportedVersionError struct {
	Version byte
}

func (e *UnsupportedVersionError) Error() string {
	return fmt.Sprintf("cursor: unsupported snapshot version %d (this build reads version %d)",
		e.Version, SnapshotVersion)
}

// CorruptSnapshotError is returned by Unmarshal when a snapshot of a known version fails
// its checksum or its structural checks. Offset is the byte offset the problem was found
// at (the checksum's offset for a checksum mismatch).
type CorruptSnapshotError struct {
	Offset int
	Reason string
}

func (e *CorruptSnapshotError) Error() string {
	return fmt.Sprintf("cursor: corrupt snapshot at byte %d: %s", e.Offset, e.Reason)
}

// Is makes errors.Is(err, ErrCorruptSnapshot) true.
func (e *CorruptSnapshotError) Is(target error) bool { return target == ErrCorruptSnapshot }
