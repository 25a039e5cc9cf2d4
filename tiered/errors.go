package tiered

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound: no object under the key.
	ErrNotFound = errors.New("tiered: object not found")
	// ErrInvalidRange: a GetRange whose range does not start inside the object, or whose
	// length is not positive.
	ErrInvalidRange = errors.New("tiered: range not satisfiable")
	// ErrInvalidKey: a key CheckKey refuses.
	ErrInvalidKey = errors.New("tiered: invalid key")
	// ErrCorrupt: an object's bytes are not a valid object of the expected format. Every
	// ChecksumError is also ErrCorrupt (errors.Is).
	ErrCorrupt = errors.New("tiered: corrupt object")
)

// IndexBlock is the Block of a ChecksumError about an offloaded ledger's index rather than
// one of its data blocks.
const IndexBlock = -1

// ChecksumError reports bytes read back from a store whose CRC32C does not match the one
// recorded when they were written: the stored copy is damaged (or the store returned
// wrong bytes). The reader never returns such bytes; the caller falls back to another
// copy (the bookies) or reports the ledger unreadable.
type ChecksumError struct {
	Key    string // object key
	Ledger int64  // ledger id of the offloaded ledger
	Block  int    // data block number, or IndexBlock
	Want   uint32 // recorded CRC32C
	Got    uint32 // CRC32C of the bytes read
}

func (e *ChecksumError) Error() string {
	what := fmt.Sprintf("block %d", e.Block)
	if e.Block == IndexBlock {
		what = "index"
	}
	return fmt.Sprintf("tiered: checksum mismatch in ledger %d %s (object %q): crc32c %#08x, want %#08x",
		e.Ledger, what, e.Key, e.Got, e.Want)
}

// Is makes every ChecksumError match ErrCorrupt.
func (e *ChecksumError) Is(target error) bool { return target == ErrCorrupt }
