// Package offload is the format of an offloaded ledger — one object per ledger in a
// tiered.ObjectStore — with the Writer that streams a closed ledger's entries into it and
// the Reader that serves entries back. The byte layout is specified in
// docs/format/offload.md and pinned by the fixtures in testdata/.
//
// An object is a header, the data blocks, the index and a footer:
//
//	header │ block 0 │ block 1 │ … │ block n−1 │ index │ footer
//
// A block is whole entries' bytes back to back (an entry never straddles two blocks),
// about BlockSize long; the index gives every block's offset, length, first entry and
// CRC32C, and every entry's length, so an entry id maps to (block, offset, length)
// without reading any data. The index also carries the ledger's id, the offload's UUID,
// the entry count, the total size and the ledger's metadata (opaque bytes from the
// caller), so a bucket can be re-indexed from its objects alone. The footer, last, says
// where the index is; the writer can therefore stream blocks out before it knows the
// index, and the whole ledger is one Put, visible atomically or not at all.
//
// Reads fetch whole blocks with ranged GETs and check each block's CRC32C before any of
// its bytes are returned: a damaged block is a *tiered.ChecksumError naming the ledger
// and block, never wrong bytes. Every decoder bounds what it allocates by the bytes it
// was given and returns an error (wrapping tiered.ErrCorrupt) for any malformed input;
// they are fuzzed.
package offload
