package offload

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-io/strata/tiered/memstore"
)

// -create writes fixtures that do not exist yet. Existing fixtures are frozen: a change
// that alters them needs a new format version and new fixtures beside the old ones.
var create = flag.Bool("create", false, "write missing golden fixtures")

// goldenLedgers are the fixed inputs of the fixtures. Block size 64 makes the small
// ledger show every case: several entries in a block, an empty entry, a block closed
// before an entry that would overflow it, an entry larger than a block alone in its own.
var goldenLedgers = []struct {
	name      string
	ledger    Ledger
	blockSize int
	entries   [][]byte
}{
	{
		name:      "ledger-v1-small",
		ledger:    Ledger{ID: 42, UUID: UUID{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x46, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}, Metadata: []byte("opaque ledger metadata")},
		blockSize: 64,
		entries: [][]byte{
			[]byte("entry zero"),
			{},
			bytes.Repeat([]byte{0xab}, 40),
			bytes.Repeat([]byte("thirty.."), 4)[:30],
			bytes.Repeat([]byte{0x01, 0x02, 0x03, 0x04}, 25),
			[]byte("last"),
		},
	},
	{
		name:      "ledger-v1-empty",
		ledger:    Ledger{ID: 7, UUID: UUID{15: 1}},
		blockSize: DefaultBlockSize,
	},
}

// TestGolden checks that the writer still produces each fixture byte for byte, that the
// reader reads it, and that the annotated dump beside it still matches.
func TestGolden(t *testing.T) {
	ctx := testCtx(t)
	for _, g := range goldenLedgers {
		t.Run(g.name, func(t *testing.T) {
			s := memstore.New()
			writeLedger(t, ctx, s, "k", g.ledger, g.blockSize, g.entries)
			info, _ := s.Stat(ctx, "k")
			got, _ := s.GetRange(ctx, "k", 0, info.Size)
			dump := annotate(t, got)

			binPath := filepath.Join("testdata", g.name+".bin")
			txtPath := filepath.Join("testdata", g.name+".txt")
			if _, err := os.Stat(binPath); os.IsNotExist(err) && *create {
				os.WriteFile(binPath, got, 0o644)
				os.WriteFile(txtPath, []byte(dump), 0o644)
			}
			want, err := os.ReadFile(binPath)
			if err != nil {
				t.Fatalf("%v (go test -run TestGolden -create writes a missing fixture)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("the writer's output differs from %s; the format changed without a new version.\ngot:\n%s", binPath, dump)
			}
			wantDump, err := os.ReadFile(txtPath)
			if err != nil {
				t.Fatal(err)
			}
			if dump != string(wantDump) {
				t.Errorf("annotated dump differs from %s:\n%s", txtPath, dump)
			}

			// The frozen bytes read back to the inputs.
			s2 := memstore.New()
			s2.Put(ctx, "frozen", bytes.NewReader(want))
			rd, err := Open(ctx, s2, "frozen")
			if err != nil {
				t.Fatalf("Open(%s): %v", binPath, err)
			}
			if err := rd.Verify(ctx); err != nil {
				t.Fatal(err)
			}
			idx := rd.Index()
			if idx.LedgerID != g.ledger.ID || idx.UUID != g.ledger.UUID || !bytes.Equal(idx.Metadata, g.ledger.Metadata) ||
				idx.EntryCount != int64(len(g.entries)) {
				t.Fatalf("index of %s: %+v", binPath, idx)
			}
			if len(g.entries) > 0 {
				entries, err := rd.Read(ctx, 0, int64(len(g.entries)-1))
				if err != nil {
					t.Fatal(err)
				}
				checkEntries(t, entries, g.entries, 0)
			}
		})
	}
}

// annotate renders an object as hex, section by section, for humans and for the doc.
func annotate(t *testing.T, obj []byte) string {
	t.Helper()
	var sb strings.Builder
	hexLine := func(off int, b []byte, what string) {
		fmt.Fprintf(&sb, "%6d  % x", off, b)
		if what != "" {
			fmt.Fprintf(&sb, "  # %s", what)
		}
		sb.WriteString("\n")
	}
	f, err := decodeFooter(obj[len(obj)-FooterSize:])
	if err != nil {
		t.Fatal(err)
	}
	idxBytes := obj[f.indexOffset : len(obj)-FooterSize]
	idx, err := decodeIndex(idxBytes)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&sb, "# offloaded ledger, format version %d, %d bytes\n", Version, len(obj))
	sb.WriteString("## header\n")
	hexLine(0, obj[0:8], "magic \"STRATAOF\"")
	hexLine(8, obj[8:10], "version")
	hexLine(10, obj[10:12], "flags")
	hexLine(12, obj[12:16], "crc32c of header[0:12]")
	for i, bl := range idx.Blocks {
		fmt.Fprintf(&sb, "## block %d: entries %d..%d, %d bytes\n", i, bl.FirstEntry, bl.FirstEntry+bl.Entries-1, bl.Length)
		off := bl.Offset
		for e := bl.FirstEntry; e < bl.FirstEntry+bl.Entries; e++ {
			l := int64(idx.Lengths[e])
			b := obj[off : off+l]
			for len(b) > 16 {
				hexLine(int(off), b[:16], fmt.Sprintf("entry %d", e))
				off += 16
				l -= 16
				b = b[16:]
			}
			if len(b) == 0 && idx.Lengths[e] == 0 {
				fmt.Fprintf(&sb, "%6d  (empty)  # entry %d\n", off, e)
			} else if len(b) > 0 {
				hexLine(int(off), b, fmt.Sprintf("entry %d", e))
			}
			off += l
		}
	}
	fmt.Fprintf(&sb, "## index\n")
	o := int(f.indexOffset)
	field := func(n int, what string) {
		hexLine(o, obj[o:o+n], what)
		o += n
	}
	field(8, fmt.Sprintf("ledger id %d", idx.LedgerID))
	field(16, "uuid "+idx.UUID.String())
	field(8, fmt.Sprintf("entry count %d", idx.EntryCount))
	field(8, fmt.Sprintf("total size %d", idx.TotalSize))
	field(4, fmt.Sprintf("block size %d", idx.BlockSize))
	field(4, fmt.Sprintf("metadata length %d", len(idx.Metadata)))
	if len(idx.Metadata) > 0 {
		field(len(idx.Metadata), fmt.Sprintf("metadata %q", idx.Metadata))
	}
	field(4, fmt.Sprintf("block count %d", len(idx.Blocks)))
	for i, bl := range idx.Blocks {
		field(8, fmt.Sprintf("block %d offset %d", i, bl.Offset))
		field(4, fmt.Sprintf("block %d length %d", i, bl.Length))
		field(8, fmt.Sprintf("block %d first entry %d", i, bl.FirstEntry))
		field(4, fmt.Sprintf("block %d entry count %d", i, bl.Entries))
		field(4, fmt.Sprintf("block %d crc32c %#08x", i, bl.CRC))
	}
	for e, l := range idx.Lengths {
		field(4, fmt.Sprintf("entry %d length %d", e, l))
	}
	sb.WriteString("## footer\n")
	field(8, fmt.Sprintf("index offset %d", f.indexOffset))
	field(4, fmt.Sprintf("index length %d", f.indexLength))
	field(4, fmt.Sprintf("index crc32c %#08x", f.indexCRC))
	field(2, "version")
	field(2, "flags")
	field(4, "crc32c of footer[0:20]")
	field(8, "magic \"STRATAOF\"")
	return sb.String()
}
