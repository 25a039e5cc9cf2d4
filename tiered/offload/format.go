package offload

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/strata-io/strata/tiered"
)

// Version is the format version this package writes. Readers accept exactly the versions
// they know; a layout change takes a new number (docs/format/offload.md, "Versioning").
const Version = 1

// Sizes of the fixed parts of an object, in bytes.
const (
	HeaderSize      = 16
	FooterSize      = 32
	blockRecordSize = 28
	indexFixedSize  = 8 + 16 + 8 + 8 + 4 + 4 // before the metadata blob
)

// Magic opens the header and closes the footer.
var Magic = [8]byte{'S', 'T', 'R', 'A', 'T', 'A', 'O', 'F'}

// ErrUnsupportedVersion: the object is in a format version this reader does not know
// (written by a newer Strata). It is not corruption.
var ErrUnsupportedVersion = errors.New("offload: unsupported format version")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

var le = binary.LittleEndian

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: offload: %s", tiered.ErrCorrupt, fmt.Sprintf(format, args...))
}

func checkVersion(version, flags uint16) error {
	if version != Version {
		return fmt.Errorf("%w %d (this reader knows %d)", ErrUnsupportedVersion, version, Version)
	}
	if flags != 0 {
		return fmt.Errorf("%w: version %d with unknown flags %#04x", ErrUnsupportedVersion, version, flags)
	}
	return nil
}

// encodeHeader returns the 16-byte header.
func encodeHeader() []byte {
	b := make([]byte, HeaderSize)
	copy(b, Magic[:])
	le.PutUint16(b[8:], Version)
	le.PutUint16(b[10:], 0)
	le.PutUint32(b[12:], crc32c(b[:12]))
	return b
}

// DecodeHeader checks the 16 bytes an object starts with and returns its version.
func DecodeHeader(b []byte) (version int, err error) {
	if len(b) < HeaderSize {
		return 0, corrupt("header is %d bytes, want %d", len(b), HeaderSize)
	}
	b = b[:HeaderSize]
	if [8]byte(b[:8]) != Magic {
		return 0, corrupt("bad header magic %q", b[:8])
	}
	if got, want := crc32c(b[:12]), le.Uint32(b[12:]); got != want {
		return 0, corrupt("header crc32c %#08x, want %#08x", got, want)
	}
	v, flags := le.Uint16(b[8:]), le.Uint16(b[10:])
	return int(v), checkVersion(v, flags)
}

// footer is the fixed trailer that locates the index.
type footer struct {
	indexOffset uint64
	indexLength uint32
	indexCRC    uint32
}

func (f footer) encode() []byte {
	b := make([]byte, FooterSize)
	le.PutUint64(b[0:], f.indexOffset)
	le.PutUint32(b[8:], f.indexLength)
	le.PutUint32(b[12:], f.indexCRC)
	le.PutUint16(b[16:], Version)
	le.PutUint16(b[18:], 0)
	le.PutUint32(b[20:], crc32c(b[:20]))
	copy(b[24:], Magic[:])
	return b
}

// decodeFooter decodes the last FooterSize bytes of an object.
func decodeFooter(b []byte) (footer, error) {
	if len(b) != FooterSize {
		return footer{}, corrupt("footer is %d bytes, want %d", len(b), FooterSize)
	}
	if [8]byte(b[24:32]) != Magic {
		return footer{}, corrupt("bad footer magic %q", b[24:32])
	}
	if got, want := crc32c(b[:20]), le.Uint32(b[20:]); got != want {
		return footer{}, corrupt("footer crc32c %#08x, want %#08x", got, want)
	}
	if err := checkVersion(le.Uint16(b[16:]), le.Uint16(b[18:])); err != nil {
		return footer{}, err
	}
	return footer{indexOffset: le.Uint64(b[0:]), indexLength: le.Uint32(b[8:]), indexCRC: le.Uint32(b[12:])}, nil
}

// BlockInfo locates one data block.
type BlockInfo struct {
	Offset     int64  // from the start of the object
	Length     int64  // bytes; the sum of its entries' lengths (0 if they are all empty)
	FirstEntry int64  // id of its first entry
	Entries    int64  // number of entries, ≥ 1
	CRC        uint32 // CRC32C of its bytes
}

// Index is the decoded index of an offloaded ledger.
type Index struct {
	LedgerID   int64
	UUID       UUID
	EntryCount int64  // entries 0 … EntryCount−1
	TotalSize  int64  // sum of the entries' lengths
	BlockSize  int64  // the writer's target block size
	Metadata   []byte // the ledger's metadata, as given to the writer
	Blocks     []BlockInfo
	// Invariant: len(Lengths) == EntryCount; entry e's bytes are at
	// Blocks[b].Offset + sum(Lengths[Blocks[b].FirstEntry:e]) for the b holding e.
	Lengths []uint32
}

func (x *Index) encode() []byte {
	n := indexFixedSize + len(x.Metadata) + 4 + blockRecordSize*len(x.Blocks) + 4*len(x.Lengths)
	b := make([]byte, 0, n)
	b = le.AppendUint64(b, uint64(x.LedgerID))
	b = append(b, x.UUID[:]...)
	b = le.AppendUint64(b, uint64(x.EntryCount))
	b = le.AppendUint64(b, uint64(x.TotalSize))
	b = le.AppendUint32(b, uint32(x.BlockSize))
	b = le.AppendUint32(b, uint32(len(x.Metadata)))
	b = append(b, x.Metadata...)
	b = le.AppendUint32(b, uint32(len(x.Blocks)))
	for _, bl := range x.Blocks {
		b = le.AppendUint64(b, uint64(bl.Offset))
		b = le.AppendUint32(b, uint32(bl.Length))
		b = le.AppendUint64(b, uint64(bl.FirstEntry))
		b = le.AppendUint32(b, uint32(bl.Entries))
		b = le.AppendUint32(b, bl.CRC)
	}
	for _, l := range x.Lengths {
		b = le.AppendUint32(b, l)
	}
	return b
}

// decodeIndex decodes and checks an index: its counts against its own length, the blocks
// contiguous from the end of the header, their entries contiguous from 0, every block's
// length equal to the sum of its entries'. It allocates no more than len(b) bytes' worth.
func decodeIndex(b []byte) (*Index, error) {
	r := reader{b: b}
	x := &Index{LedgerID: int64(r.u64())}
	copy(x.UUID[:], r.bytes(16))
	*x = Index{
		LedgerID:   x.LedgerID,
		UUID:       x.UUID,
		EntryCount: int64(r.u64()),
		TotalSize:  int64(r.u64()),
		BlockSize:  int64(r.u32()),
	}
	x.Metadata = append([]byte(nil), r.bytes(int(r.u32()))...)
	nBlocks := int(r.u32())
	if r.err != nil {
		return nil, r.err
	}
	// The counts must account for every remaining byte, before anything is allocated.
	rest := len(b) - r.off
	if x.EntryCount < 0 || x.EntryCount > int64(rest)/4 ||
		int64(nBlocks)*blockRecordSize+4*x.EntryCount != int64(rest) {
		return nil, corrupt("index of %d bytes cannot hold %d blocks and %d entries", len(b), nBlocks, x.EntryCount)
	}
	if x.LedgerID < 0 {
		return nil, corrupt("negative ledger id %d", x.LedgerID)
	}
	x.Blocks = make([]BlockInfo, nBlocks)
	for i := range x.Blocks {
		x.Blocks[i] = BlockInfo{
			Offset:     int64(r.u64()),
			Length:     int64(r.u32()),
			FirstEntry: int64(r.u64()),
			Entries:    int64(r.u32()),
			CRC:        r.u32(),
		}
	}
	x.Lengths = make([]uint32, x.EntryCount)
	for i := range x.Lengths {
		x.Lengths[i] = r.u32()
	}
	if r.err != nil {
		return nil, r.err
	}
	// Blocks: contiguous in the object and in entry ids, each holding its entries' bytes.
	off, entry, total := int64(HeaderSize), int64(0), int64(0)
	for i, bl := range x.Blocks {
		if bl.Offset != off || bl.FirstEntry != entry || bl.Entries < 1 || bl.Entries > x.EntryCount-entry {
			return nil, corrupt("block %d (offset %d, entries %d+%d) does not follow on from offset %d, entry %d of %d",
				i, bl.Offset, bl.FirstEntry, bl.Entries, off, entry, x.EntryCount)
		}
		var sum int64
		for _, l := range x.Lengths[entry : entry+bl.Entries] {
			sum += int64(l)
		}
		if sum != bl.Length {
			return nil, corrupt("block %d is %d bytes but its entries add up to %d", i, bl.Length, sum)
		}
		off += bl.Length
		entry += bl.Entries
		total += sum
	}
	if entry != x.EntryCount || total != x.TotalSize {
		return nil, corrupt("blocks hold %d entries of %d bytes; the index says %d of %d", entry, total, x.EntryCount, x.TotalSize)
	}
	return x, nil
}

// DataEnd is the offset just past the last block: where the index starts.
func (x *Index) DataEnd() int64 {
	if len(x.Blocks) == 0 {
		return HeaderSize
	}
	last := x.Blocks[len(x.Blocks)-1]
	return last.Offset + last.Length
}

// reader reads little-endian fields, remembering the first overrun.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.err = corrupt("index truncated: %d bytes wanted at offset %d of %d", n, r.off, len(r.b))
		return nil
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s
}

func (r *reader) u64() uint64 {
	if s := r.bytes(8); len(s) == 8 {
		return le.Uint64(s)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if s := r.bytes(4); len(s) == 4 {
		return le.Uint32(s)
	}
	return 0
}
