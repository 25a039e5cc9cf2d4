package cursor

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

var updateGolden = flag.Bool("update-golden", false,
	"write missing testdata/snapshot-v*.bin fixtures (existing fixtures are never overwritten)")

// summary renders a state compactly enough for large fixtures: counts, the first and last
// ranges and a hash of all of them.
func summary(s *State) string {
	var b strings.Builder
	fmt.Fprintf(&b, "mark-delete: %v\n", s.MarkDelete())
	var ranges []string
	h := fnv.New64a()
	for r := range s.AckedRanges() {
		ranges = append(ranges, r.String())
		fmt.Fprintf(h, "%v;", r)
	}
	if len(ranges) > 8 {
		ranges = append(append(ranges[:4:4], "..."), ranges[len(ranges)-4:]...)
	}
	fmt.Fprintf(&b, "acked: %d entries, %d ranges, hash %016x\n", s.AckedCount(), s.RangeCount(), h.Sum64())
	fmt.Fprintf(&b, "ranges: %s\n", orNone(ranges))
	for _, p := range s.batchPositions() {
		fmt.Fprintf(&b, "batch %v: ack_set=%s\n", p, wireString(s.BatchAckSet(p)))
	}
	fmt.Fprintf(&b, "backlog: %d\n", s.Backlog())
	return b.String()
}

// goldenCases are the states pinned as version 1 fixtures. build runs only with
// -update-golden; afterwards the .bin files are the truth and layout is what the test
// decodes them with.
var goldenCases = []struct {
	name   string
	layout Layout
	build  func(t *testing.T, s *State)
}{
	{
		name:   "empty",
		layout: Layout{{ID: 1, Entries: 10}},
		build:  func(t *testing.T, s *State) {},
	},
	{
		name:   "before-ledger",
		layout: Layout{{ID: 4, Entries: 3}, {ID: 9, Entries: 5}},
		build: func(t *testing.T, s *State) {
			must(t, s.Reset(Position{Ledger: 9, Entry: 0}))
			must(t, s.AckIndividual(Position{Ledger: 9, Entry: 2}))
		},
	},
	{
		// Every container kind: sparse acks (array), a long contiguous run (run), acks
		// alternating with holes (bitmap); three ledgers, one empty; two partial batches,
		// one spanning two words.
		name:   "mixed",
		layout: Layout{{ID: 3, Entries: 100}, {ID: 5, Entries: 0}, {ID: 7, Entries: 300000}},
		build: func(t *testing.T, s *State) {
			must(t, s.AckCumulative(Position{Ledger: 3, Entry: 10}))
			for _, e := range []int64{12, 13, 50, 99} {
				must(t, s.AckIndividual(Position{Ledger: 3, Entry: e}))
			}
			for e := int64(1); e < 100000; e++ {
				must(t, s.AckIndividual(Position{Ledger: 7, Entry: e}))
			}
			for e := int64(200001); e < 210000; e += 2 {
				must(t, s.AckIndividual(Position{Ledger: 7, Entry: e}))
			}
			must(t, s.AckBatchIndexes(Position{Ledger: 3, Entry: 20}, 4, []int{0, 2}))
			must(t, s.AckBatchIndexes(Position{Ledger: 7, Entry: 0}, 70, []int{1, 64, 69}))
		},
	},
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestGoldenSnapshots decodes the snapshots written by format version 1 and checks the
// state they hold. A change that cannot read them breaks compatibility with cursors
// persisted by earlier builds: add a new version instead.
func TestGoldenSnapshots(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			bin := filepath.Join("testdata", "snapshot-v1-"+tc.name+".bin")
			txt := filepath.Join("testdata", "snapshot-v1-"+tc.name+".txt")
			if _, err := os.Stat(bin); *updateGolden && errors.Is(err, os.ErrNotExist) {
				s, err := New(tc.layout)
				must(t, err)
				tc.build(t, s)
				must(t, os.WriteFile(bin, s.Marshal(), 0o644))
				must(t, os.WriteFile(txt, []byte(summary(s)), 0o644))
			}
			data, err := os.ReadFile(bin)
			must(t, err)
			want, err := os.ReadFile(txt)
			must(t, err)
			s, err := Unmarshal(data, tc.layout)
			if err != nil {
				t.Fatalf("Unmarshal(%s): %v", bin, err)
			}
			if got := summary(s); got != string(want) {
				t.Fatalf("%s decodes to\n%s\nwant\n%s", bin, got, want)
			}
			if s.EncodedSize() != len(s.Marshal()) {
				t.Fatalf("EncodedSize %d, Marshal %d", s.EncodedSize(), len(s.Marshal()))
			}
			back, err := Unmarshal(s.Marshal(), tc.layout)
			must(t, err)
			if summary(back) != string(want) {
				t.Fatalf("re-encoding changed the state")
			}
		})
	}
}

// TestSnapshotHeader pins the fixed fields of the format as docs/format/cursor.md
// describes them.
func TestSnapshotHeader(t *testing.T) {
	s, err := New(Layout{{ID: 1, Entries: 10}})
	must(t, err)
	must(t, s.AckIndividual(Position{Ledger: 1, Entry: 0}))
	data := s.Marshal()
	want := []byte{
		0x01,                                                 // version
		0x01, 0, 0, 0, 0, 0, 0, 0, 0x00, 0, 0, 0, 0, 0, 0, 0, // mark-delete 1:0
		0x00, 0, 0, 0, // no ledger bitmaps
		0x00, 0, 0, 0, // no batches
	}
	if !bytes.Equal(data[:len(want)], want) || len(data) != len(want)+4 {
		t.Fatalf("snapshot % x, want % x + crc", data, want)
	}
	if got, crc := binary.LittleEndian.Uint32(data[len(want):]), crc32.Checksum(want, crc32.MakeTable(crc32.Castagnoli)); got != crc {
		t.Fatalf("crc %08x, want %08x", got, crc)
	}
}

func goldenMixed(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "snapshot-v1-mixed.bin"))
	must(t, err)
	return data
}

func TestUnmarshalVersion(t *testing.T) {
	data := goldenMixed(t)
	data[0] = 2
	_, err := Unmarshal(data, nil)
	var ve *UnsupportedVersionError
	if !errors.As(err, &ve) || ve.Version != 2 {
		t.Fatalf("err = %v, want UnsupportedVersionError{2}", err)
	}
	if !strings.HasPrefix(err.Error(), "cursor: ") {
		t.Fatalf("error %q lacks the package prefix", err)
	}
}

// TestUnmarshalDetectsCorruption: every single-bit flip and every truncation of a real
// snapshot is refused (CRC32C catches all of them), never decoded into another state.
func TestUnmarshalDetectsCorruption(t *testing.T) {
	s, err := New(Layout{{ID: 1, Entries: 100}, {ID: 2, Entries: 100}})
	must(t, err)
	for _, e := range []int64{3, 4, 9, 50} {
		must(t, s.AckIndividual(Position{Ledger: 1, Entry: e}))
		must(t, s.AckIndividual(Position{Ledger: 2, Entry: e}))
	}
	must(t, s.AckBatchIndexes(Position{Ledger: 2, Entry: 7}, 10, []int{3}))
	data := s.Marshal()
	for i := range len(data) * 8 {
		c := bytes.Clone(data)
		c[i/8] ^= 1 << (i % 8)
		if _, err := Unmarshal(c, s.Layout()); err == nil {
			t.Fatalf("bit %d flipped: accepted", i)
		} else if i >= 8 && !errors.Is(err, ErrCorruptSnapshot) {
			t.Fatalf("bit %d flipped: %v, want ErrCorruptSnapshot", i, err)
		}
	}
	for n := range len(data) {
		if _, err := Unmarshal(data[:n], s.Layout()); err == nil {
			t.Fatalf("truncated to %d bytes: accepted", n)
		}
	}
	if _, err := Unmarshal(append(bytes.Clone(data), 0), s.Layout()); !errors.Is(err, ErrCorruptSnapshot) {
		t.Fatalf("trailing byte: %v", err)
	}
}

// reseal recomputes the CRC of a snapshot whose body a test edited on purpose.
func reseal(data []byte) []byte {
	body := len(data) - trailerSize
	binary.LittleEndian.PutUint32(data[body:], crc32.Checksum(data[:body], castagnoli))
	return data
}

// snapshotOf builds a snapshot body by hand: version, mark-delete, ledgers, batches.
func snapshotOf(md Position, ledgers map[int64][]byte, order []int64, batches []byte, nBatches uint32) []byte {
	b := []byte{SnapshotVersion}
	b = binary.LittleEndian.AppendUint64(b, uint64(md.Ledger))
	b = binary.LittleEndian.AppendUint64(b, uint64(md.Entry))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(order)))
	for _, id := range order {
		b = binary.LittleEndian.AppendUint64(b, uint64(id))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(ledgers[id])))
		b = append(b, ledgers[id]...)
	}
	b = binary.LittleEndian.AppendUint32(b, nBatches)
	b = append(b, batches...)
	return reseal(append(b, 0, 0, 0, 0))
}

func bitmapBytes(vals ...uint32) []byte {
	bm := roaring.BitmapOf(vals...)
	raw, _ := bm.ToBytes()
	return raw
}

func batchRecord(p Position, size uint32, words ...uint64) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(p.Ledger))
	b = binary.LittleEndian.AppendUint64(b, uint64(p.Entry))
	b = binary.LittleEndian.AppendUint32(b, size)
	for _, w := range words {
		b = binary.LittleEndian.AppendUint64(b, w)
	}
	return b
}

// TestUnmarshalRejectsInvalid: snapshots with a valid CRC but a violated invariant.
func TestUnmarshalRejectsInvalid(t *testing.T) {
	md := Position{Ledger: 2, Entry: 5}
	ok := bitmapBytes(7, 9)
	cases := []struct {
		name string
		data []byte
	}{
		{"bad mark-delete", snapshotOf(Position{Ledger: -1, Entry: 3}, nil, nil, nil, 0)},
		{"ack at mark-delete", snapshotOf(md, map[int64][]byte{2: bitmapBytes(5, 9)}, []int64{2}, nil, 0)},
		{"ledger below mark-delete", snapshotOf(md, map[int64][]byte{1: ok}, []int64{1}, nil, 0)},
		{"ledgers out of order", snapshotOf(md, map[int64][]byte{3: ok, 4: ok}, []int64{4, 3}, nil, 0)},
		{"empty bitmap", snapshotOf(md, map[int64][]byte{3: bitmapBytes()}, []int64{3}, nil, 0)},
		{"entry id ≥ 2^31", snapshotOf(md, map[int64][]byte{3: bitmapBytes(1 << 31)}, []int64{3}, nil, 0)},
		{"garbage bitmap", snapshotOf(md, map[int64][]byte{3: {1, 2, 3, 4, 5, 6, 7, 8}}, []int64{3}, nil, 0)},
		{"bitmap with trailing byte", snapshotOf(md, map[int64][]byte{3: append(bitmapBytes(1), 0)}, []int64{3}, nil, 0)},
		{"batch at mark-delete", snapshotOf(md, nil, nil, batchRecord(md, 4, 1), 1)},
		{"batch size 0", snapshotOf(md, nil, nil, batchRecord(Position{Ledger: 3, Entry: 0}, 0), 1)},
		{"batch all acked", snapshotOf(md, nil, nil, batchRecord(Position{Ledger: 3, Entry: 0}, 4, 0xf), 1)},
		{"batch none acked", snapshotOf(md, nil, nil, batchRecord(Position{Ledger: 3, Entry: 0}, 4, 0), 1)},
		{"batch bit beyond size", snapshotOf(md, nil, nil, batchRecord(Position{Ledger: 3, Entry: 0}, 4, 0x11), 1)},
		{"batch on acked entry", snapshotOf(md, map[int64][]byte{3: ok}, []int64{3}, batchRecord(Position{Ledger: 3, Entry: 7}, 4, 1), 1)},
		{"batches out of order", snapshotOf(md, nil, nil, append(
			batchRecord(Position{Ledger: 3, Entry: 2}, 4, 1), batchRecord(Position{Ledger: 3, Entry: 1}, 4, 1)...), 2)},
		{"batch count too high", snapshotOf(md, nil, nil, batchRecord(Position{Ledger: 3, Entry: 2}, 4, 1), 2)},
		{"ledger count too high", snapshotOf(md, map[int64][]byte{3: ok}, []int64{3}, nil, 0)[:0]},
	}
	// A ledger count larger than the records present.
	lc := snapshotOf(md, nil, nil, nil, 0)
	binary.LittleEndian.PutUint32(lc[17:], 1000)
	cases[len(cases)-1].data = reseal(lc)

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Unmarshal(tc.data, Layout{{ID: 2, Entries: 100}, {ID: 3, Entries: 100}, {ID: 4, Entries: 100}})
			if !errors.Is(err, ErrCorruptSnapshot) {
				t.Fatalf("err = %v, want ErrCorruptSnapshot", err)
			}
			t.Log(err)
		})
	}
	// And the valid hand-built one is accepted, as a control.
	s, err := Unmarshal(snapshotOf(md, map[int64][]byte{3: ok}, []int64{3},
		batchRecord(Position{Ledger: 3, Entry: 8}, 4, 1), 1), Layout{{ID: 2, Entries: 100}, {ID: 3, Entries: 100}})
	must(t, err)
	if !s.IsAcked(Position{Ledger: 3, Entry: 9}) || s.BatchAckSet(Position{Ledger: 3, Entry: 8}) == nil {
		t.Fatalf("control snapshot decoded wrong:\n%s", render(s))
	}
}

func TestEncodedSizeMatches(t *testing.T) {
	s, err := New(Layout{{ID: 1, Entries: 1 << 20}})
	must(t, err)
	for e := int64(1); e < 1<<20; e += 3 {
		must(t, s.AckIndividual(Position{Ledger: 1, Entry: e}))
	}
	must(t, s.AckBatchIndexes(Position{Ledger: 1, Entry: 2}, 200, []int{5}))
	if got, want := s.EncodedSize(), len(s.Marshal()); got != want {
		t.Fatalf("EncodedSize = %d, len(Marshal()) = %d", got, want)
	}
}
