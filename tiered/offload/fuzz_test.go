package offload

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-io/strata/tiered"
	"github.com/strata-io/strata/tiered/memstore"
)

// seedObjects adds the golden fixtures to a fuzz corpus.
func seedObjects(f *testing.F) [][]byte {
	var objs [][]byte
	for _, g := range goldenLedgers {
		b, err := os.ReadFile(filepath.Join("testdata", g.name+".bin"))
		if err != nil {
			f.Fatal(err)
		}
		objs = append(objs, b)
	}
	return objs
}

// FuzzDecodeIndex: arbitrary bytes never panic the index decoder, and whatever it accepts
// encodes back to the same bytes (the layout has one encoding).
func FuzzDecodeIndex(f *testing.F) {
	for _, obj := range seedObjects(f) {
		ft, err := decodeFooter(obj[len(obj)-FooterSize:])
		if err != nil {
			f.Fatal(err)
		}
		f.Add(obj[ft.indexOffset : len(obj)-FooterSize])
	}
	f.Add([]byte{})
	f.Add(make([]byte, indexFixedSize+4))
	f.Fuzz(func(t *testing.T, b []byte) {
		idx, err := decodeIndex(b)
		if err != nil {
			if !errors.Is(err, tiered.ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if got := idx.encode(); !bytes.Equal(got, b) {
			t.Fatalf("decoded index re-encodes differently:\n got %x\nwant %x", got, b)
		}
	})
}

// FuzzDecodeFooterHeader: arbitrary bytes never panic the footer and header decoders.
func FuzzDecodeFooterHeader(f *testing.F) {
	for _, obj := range seedObjects(f) {
		f.Add(obj[len(obj)-FooterSize:])
		f.Add(obj[:HeaderSize])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) >= FooterSize {
			ft, err := decodeFooter(b[:FooterSize])
			if err == nil && !bytes.Equal(ft.encode(), b[:FooterSize]) {
				t.Fatalf("footer %x re-encodes differently", b[:FooterSize])
			}
		}
		DecodeHeader(b)
	})
}

// FuzzReader: any object, however damaged, is opened, read and verified without a panic,
// and every entry the reader returns lies inside a block whose CRC matched.
func FuzzReader(f *testing.F) {
	for _, obj := range seedObjects(f) {
		f.Add(obj, int64(0), int64(5))
		f.Add(obj[:len(obj)-1], int64(1), int64(1))
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, obj []byte, first, last int64) {
		s := memstore.New()
		if err := s.Put(ctx, "k", bytes.NewReader(obj)); err != nil {
			t.Fatal(err)
		}
		rd, err := Open(ctx, s, "k")
		if err != nil {
			return
		}
		rd.Verify(ctx)
		entries, err := rd.Read(ctx, first, last)
		if err != nil {
			return
		}
		if int64(len(entries)) != last-first+1 {
			t.Fatalf("Read(%d, %d) returned %d entries", first, last, len(entries))
		}
		for i, e := range entries {
			if int64(len(e)) != int64(rd.Index().Lengths[first+int64(i)]) {
				t.Fatalf("entry %d has %d bytes, index says %d", first+int64(i), len(e), rd.Index().Lengths[first+int64(i)])
			}
		}
	})
}

// TestCRC32CIsCastagnoli pins the checksum to the published CRC-32C check value, so a
// wrong polynomial cannot hide behind fixtures written by the same code.
func TestCRC32CIsCastagnoli(t *testing.T) {
	if got := crc32c([]byte("123456789")); got != 0xe3069283 {
		t.Fatalf("crc32c(\"123456789\") = %#08x, want 0xe3069283", got)
	}
}
