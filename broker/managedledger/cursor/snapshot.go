package cursor

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"

	"github.com/RoaringBitmap/roaring/v2"
)

// SnapshotVersion is the snapshot format this build writes and the only one it reads.
// The format is specified in docs/format/cursor.md; testdata/snapshot-v1-*.bin are
// snapshots written by version 1 that every later build must still decode.
const SnapshotVersion = 1

// Fixed parts of a version 1 snapshot, in bytes.
const (
	headerSize      = 1 + 8 + 8 + 4 // version, mark-delete ledger and entry, ledger count
	ledgerHeadSize  = 8 + 4         // ledger id, bitmap length
	batchCountSize  = 4
	batchHeadSize   = 8 + 8 + 4 // ledger, entry, batch size
	trailerSize     = 4         // CRC32C
	minSnapshotSize = headerSize + batchCountSize + trailerSize
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// optimize converts bitmap containers to run containers where that is smaller, so
// contiguous acks cost a few bytes. Idempotent; called before sizing and encoding so the
// two agree.
func (s *State) optimize() {
	for _, bm := range s.acked {
		bm.RunOptimize()
	}
}

// EncodedSize returns len(s.Marshal()) without encoding, so the owner can pick where to
// store the snapshot (inline in etcd when small, in a cursor ledger when large).
func (s *State) EncodedSize() int {
	s.optimize()
	n := minSnapshotSize
	for _, bm := range s.acked {
		n += ledgerHeadSize + int(bm.GetSerializedSizeInBytes())
	}
	for _, b := range s.batches {
		n += batchHeadSize + 8*len(b.acked)
	}
	return n
}

// Marshal encodes the state (not the layout, which the managed ledger persists itself)
// in snapshot format version 1.
func (s *State) Marshal() []byte {
	size := s.EncodedSize()
	buf := bytes.NewBuffer(make([]byte, 0, size))
	var scratch [8]byte
	u32 := func(v uint32) {
		binary.LittleEndian.PutUint32(scratch[:4], v)
		buf.Write(scratch[:4])
	}
	u64 := func(v uint64) {
		binary.LittleEndian.PutUint64(scratch[:], v)
		buf.Write(scratch[:])
	}

	buf.WriteByte(SnapshotVersion)
	u64(uint64(s.md.Ledger))
	u64(uint64(s.md.Entry))
	u32(uint32(len(s.acked)))
	for _, id := range s.ackedLedgers() {
		bm := s.acked[id]
		u64(uint64(id))
		u32(uint32(bm.GetSerializedSizeInBytes()))
		if _, err := bm.WriteTo(buf); err != nil {
			panic("cursor: roaring WriteTo a bytes.Buffer failed: " + err.Error()) // cannot happen
		}
	}
	u32(uint32(len(s.batches)))
	for _, p := range s.batchPositions() {
		b := s.batches[p]
		u64(uint64(p.Ledger))
		u64(uint64(p.Entry))
		u32(uint32(b.size))
		for _, w := range b.acked {
			u64(w)
		}
	}
	u32(crc32.Checksum(buf.Bytes(), castagnoli))
	return buf.Bytes()
}

// decoder reads little-endian fields from a snapshot, remembering the first failure.
type decoder struct {
	b   []byte
	off int // absolute offset of b[0] in the snapshot
	pos int
	err *CorruptSnapshotError
}

// fail records a problem found at the current position.
func (d *decoder) fail(reason string) { d.failAt(d.pos, reason) }

// failAt records a problem with the field that starts at pos.
func (d *decoder) failAt(pos int, reason string) {
	if d.err == nil {
		d.err = &CorruptSnapshotError{Offset: d.off + pos, Reason: reason}
	}
}

func (d *decoder) next(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b)-d.pos {
		d.fail("truncated " + what)
		return nil
	}
	v := d.b[d.pos : d.pos+n]
	d.pos += n
	return v
}

func (d *decoder) u16(what string) uint16 {
	if v := d.next(2, what); v != nil {
		return binary.LittleEndian.Uint16(v)
	}
	return 0
}

func (d *decoder) u32(what string) uint32 {
	if v := d.next(4, what); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

func (d *decoder) u64(what string) uint64 {
	if v := d.next(8, what); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

// Unmarshal decodes a snapshot written by Marshal and returns the state over layout l.
// Acks of positions l does not contain are dropped and mark-delete advances as in
// SetLayout, so the owner passes the topic's current layout.
//
// Errors: *UnsupportedVersionError for an unknown version byte; *CorruptSnapshotError
// (errors.Is ErrCorruptSnapshot) for a checksum mismatch, truncation, trailing bytes or
// any violated invariant; ErrBadLayout for an invalid l. It never panics, whatever the
// input, and its work is linear in len(data).
func Unmarshal(data []byte, l Layout) (*State, error) {
	if len(data) == 0 {
		return nil, &CorruptSnapshotError{Offset: 0, Reason: "empty snapshot"}
	}
	if data[0] != SnapshotVersion {
		return nil, &UnsupportedVersionError{Version: data[0]}
	}
	if len(data) < minSnapshotSize {
		return nil, &CorruptSnapshotError{Offset: len(data), Reason: "truncated snapshot"}
	}
	body := len(data) - trailerSize
	if want, got := binary.LittleEndian.Uint32(data[body:]), crc32.Checksum(data[:body], castagnoli); want != got {
		return nil, &CorruptSnapshotError{Offset: body, Reason: "checksum mismatch"}
	}
	s, err := decodeV1(data[:body])
	if err != nil {
		return nil, err
	}
	if err := s.SetLayout(l); err != nil {
		return nil, err
	}
	return s, nil
}

// decodeV1 parses the checked body (everything but the CRC) of a version 1 snapshot into
// a State with an empty layout, enforcing every invariant that does not involve the
// layout.
func decodeV1(body []byte) (*State, error) {
	d := &decoder{b: body, pos: 1}
	md := Position{Ledger: int64(d.u64("mark-delete")), Entry: int64(d.u64("mark-delete"))}
	if d.err == nil && !validMarkDelete(md) {
		d.failAt(1, "invalid mark-delete "+md.String())
	}
	s := &State{
		md:      md,
		acked:   make(map[int64]*roaring.Bitmap),
		batches: make(map[Position]*batchAcks),
	}

	nLedgers := d.u32("ledger count")
	prev := int64(-1)
	for i := uint32(0); i < nLedgers && d.err == nil; i++ {
		rec := d.pos
		id := int64(d.u64("ledger id"))
		if d.err == nil && (id < 0 || id <= prev || id < md.Ledger) {
			d.failAt(rec, "ledger ids not increasing, negative or below mark-delete")
		}
		prev = id
		n := d.u32("bitmap length")
		start := d.pos
		raw := d.next(int(n), "bitmap")
		if d.err != nil {
			break
		}
		if err := checkPortableBitmap(raw, d.off+start); err != nil {
			return nil, err
		}
		bm := roaring.New()
		if _, err := bm.ReadFrom(bytes.NewReader(raw)); err != nil {
			return nil, &CorruptSnapshotError{Offset: start, Reason: "bitmap: " + err.Error()}
		}
		if id == md.Ledger && int64(bm.Minimum()) <= md.Entry {
			d.failAt(start, "acked entry at or below mark-delete")
			break
		}
		s.acked[id] = bm
		s.count += int64(bm.GetCardinality())
	}

	nBatches := d.u32("batch count")
	var prevPos Position
	for i := uint32(0); i < nBatches && d.err == nil; i++ {
		start := d.pos
		p := Position{Ledger: int64(d.u64("batch position")), Entry: int64(d.u64("batch position"))}
		size := int(d.u32("batch size"))
		if d.err != nil {
			break
		}
		switch {
		case !p.isEntry() || p.Compare(md) <= 0:
			d.failAt(start, "batch position "+p.String()+" invalid or at or below mark-delete")
		case i > 0 && p.Compare(prevPos) <= 0:
			d.failAt(start, "batch positions not increasing")
		case size < 1 || size > MaxBatchSize:
			d.failAt(start+16, "batch size out of range")
		case s.IsAcked(p):
			d.failAt(start, "batch position "+p.String()+" also acknowledged whole")
		}
		prevPos = p
		b := &batchAcks{size: size, acked: make([]uint64, 0, min(wordsFor(size), (len(body)-d.pos)/8))}
		for range wordsFor(size) {
			b.acked = append(b.acked, d.u64("batch bits"))
			if d.err != nil {
				break
			}
		}
		if d.err == nil && !b.valid() {
			d.failAt(start+batchHeadSize, "batch bits: none or all acknowledged, or bits beyond the batch")
		}
		s.batches[p] = b
	}
	if d.err == nil && d.pos != len(body) {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return nil, d.err
	}
	return s, nil
}
