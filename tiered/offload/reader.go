package offload

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/strata-io/strata/tiered"
)

// tailRead is how much of an object's end Open fetches at once: the footer and, for most
// ledgers, the whole index (4 bytes an entry plus 28 a block) in a single GET.
const tailRead = 64 << 10

// Reader serves the entries of one offloaded ledger. Open reads and checks the index;
// every read after that fetches whole blocks and checks their CRC32C before returning any
// byte of them. A Reader holds no mutable state after Open and is safe for concurrent use;
// it caches nothing (a block cache belongs to the caller, keyed by (key, block)).
type Reader struct {
	store tiered.ObjectStore
	key   string
	size  int64
	idx   *Index
	// Invariant: starts[e] is entry e's offset inside its block; len(starts) == EntryCount.
	starts []uint32
}

// Open reads the index of the object at key. A missing object is tiered.ErrNotFound; a
// damaged footer or index is tiered.ErrCorrupt (a *tiered.ChecksumError with Block
// tiered.IndexBlock when the index's CRC fails); a newer format is ErrUnsupportedVersion.
func Open(ctx context.Context, store tiered.ObjectStore, key string) (*Reader, error) {
	info, err := store.Stat(ctx, key)
	if err != nil {
		return nil, err
	}
	size := info.Size
	if size < HeaderSize+FooterSize {
		return nil, corrupt("object %q is %d bytes, too short for an offloaded ledger", key, size)
	}
	tailOff := max(0, size-tailRead)
	tail, err := store.GetRange(ctx, key, tailOff, size-tailOff)
	if err != nil {
		return nil, err
	}
	if int64(len(tail)) != size-tailOff {
		return nil, corrupt("object %q: read %d bytes of its last %d", key, len(tail), size-tailOff)
	}
	f, err := decodeFooter(tail[len(tail)-FooterSize:])
	if err != nil {
		return nil, fmt.Errorf("object %q: %w", key, err)
	}
	indexEnd := size - FooterSize
	if f.indexOffset < HeaderSize || f.indexOffset > uint64(indexEnd) ||
		f.indexOffset+uint64(f.indexLength) != uint64(indexEnd) {
		return nil, corrupt("object %q of %d bytes: index at [%d, +%d) does not end at the footer", key, size, f.indexOffset, f.indexLength)
	}
	var index []byte
	if int64(f.indexOffset) >= tailOff {
		index = tail[int64(f.indexOffset)-tailOff : indexEnd-tailOff]
	} else {
		// A large index: fetch what the tail read missed.
		head, err := store.GetRange(ctx, key, int64(f.indexOffset), tailOff-int64(f.indexOffset))
		if err != nil {
			return nil, err
		}
		index = append(head, tail[:indexEnd-tailOff]...)
	}
	if got := crc32c(index); got != f.indexCRC {
		return nil, &tiered.ChecksumError{Key: key, Ledger: -1, Block: tiered.IndexBlock, Want: f.indexCRC, Got: got}
	}
	idx, err := decodeIndex(index)
	if err != nil {
		return nil, fmt.Errorf("object %q: %w", key, err)
	}
	if idx.DataEnd() != int64(f.indexOffset) {
		return nil, corrupt("object %q: blocks end at %d, index starts at %d", key, idx.DataEnd(), f.indexOffset)
	}
	r := &Reader{store: store, key: key, size: size, idx: idx, starts: make([]uint32, idx.EntryCount)}
	for _, bl := range idx.Blocks {
		var off uint32
		for e := bl.FirstEntry; e < bl.FirstEntry+bl.Entries; e++ {
			r.starts[e] = off
			off += idx.Lengths[e]
		}
	}
	return r, nil
}

// Index returns the object's index. The caller must not modify it.
func (r *Reader) Index() *Index { return r.idx }

// Size is the object's size in bytes.
func (r *Reader) Size() int64 { return r.size }

// BlockOf returns the block that holds entry, or -1 if the ledger has no such entry.
func (r *Reader) BlockOf(entry int64) int {
	if entry < 0 || entry >= r.idx.EntryCount {
		return -1
	}
	return sort.Search(len(r.idx.Blocks), func(i int) bool {
		bl := r.idx.Blocks[i]
		return bl.FirstEntry+bl.Entries > entry
	})
}

// ReadBlock fetches block i with one ranged GET and checks its CRC32C. A mismatch is a
// *tiered.ChecksumError; bytes that do not match are never returned.
func (r *Reader) ReadBlock(ctx context.Context, i int) ([]byte, error) {
	if i < 0 || i >= len(r.idx.Blocks) {
		return nil, fmt.Errorf("offload: ledger %d has no block %d", r.idx.LedgerID, i)
	}
	bl := r.idx.Blocks[i]
	if bl.Length == 0 {
		return []byte{}, nil // only empty entries; nothing stored, nothing to fetch
	}
	b, err := r.store.GetRange(ctx, r.key, bl.Offset, bl.Length)
	if errors.Is(err, tiered.ErrInvalidRange) {
		return nil, corrupt("object %q (ledger %d) is shorter than its index says: block %d at [%d, +%d): %v",
			r.key, r.idx.LedgerID, i, bl.Offset, bl.Length, err)
	}
	if err != nil {
		return nil, fmt.Errorf("offload: ledger %d block %d: %w", r.idx.LedgerID, i, err)
	}
	if int64(len(b)) != bl.Length {
		return nil, corrupt("object %q (ledger %d) block %d: read %d bytes of %d", r.key, r.idx.LedgerID, i, len(b), bl.Length)
	}
	if got := crc32c(b); got != bl.CRC {
		return nil, &tiered.ChecksumError{Key: r.key, Ledger: r.idx.LedgerID, Block: i, Want: bl.CRC, Got: got}
	}
	return b, nil
}

// Read returns entries first … last (inclusive), fetching each block they span once. The
// entries alias freshly fetched block buffers that nothing else holds.
func (r *Reader) Read(ctx context.Context, first, last int64) ([][]byte, error) {
	if first < 0 || last < first || last >= r.idx.EntryCount {
		return nil, fmt.Errorf("offload: entries [%d, %d] out of ledger %d's [0, %d)", first, last, r.idx.LedgerID, r.idx.EntryCount)
	}
	out := make([][]byte, 0, last-first+1)
	for i := r.BlockOf(first); len(out) < cap(out); i++ {
		b, err := r.ReadBlock(ctx, i)
		if err != nil {
			return nil, err
		}
		bl := r.idx.Blocks[i]
		for e := max(first, bl.FirstEntry); e <= last && e < bl.FirstEntry+bl.Entries; e++ {
			s := r.starts[e]
			out = append(out, b[s:s+r.idx.Lengths[e]:s+r.idx.Lengths[e]])
		}
	}
	return out, nil
}

// Verify reads the whole object back — header, every block, index — and checks every
// checksum: what an offloader runs before it records the offload as complete.
func (r *Reader) Verify(ctx context.Context) error {
	h, err := r.store.GetRange(ctx, r.key, 0, HeaderSize)
	if err != nil {
		return err
	}
	if _, err := DecodeHeader(h); err != nil {
		return fmt.Errorf("object %q: %w", r.key, err)
	}
	for i := range r.idx.Blocks {
		if _, err := r.ReadBlock(ctx, i); err != nil {
			return err
		}
	}
	return nil
}
