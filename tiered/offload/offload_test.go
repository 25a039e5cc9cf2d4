package offload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/strata-io/strata/internal/testenv"
	"github.com/strata-io/strata/tiered"
	"github.com/strata-io/strata/tiered/memstore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testCtx(t *testing.T) context.Context { return testenv.Context(t, time.Minute) }

// writeLedger offloads entries to key and returns the index Close returned.
func writeLedger(t *testing.T, ctx context.Context, s tiered.ObjectStore, key string, l Ledger, blockSize int, entries [][]byte) *Index {
	t.Helper()
	w, err := NewWriter(ctx, s, key, l, WriterOptions{BlockSize: blockSize})
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range entries {
		if err := w.Append(int64(i), e); err != nil {
			w.Abort()
			t.Fatalf("Append(%d): %v", i, err)
		}
	}
	idx, err := w.Close()
	if err != nil {
		t.Fatalf("Close: %v", err)
	}
	return idx
}

func randomEntries(t *testing.T, n, maxLen int) [][]byte {
	r := testenv.Rand(t)
	out := make([][]byte, n)
	for i := range out {
		l := r.IntN(maxLen + 1)
		if r.IntN(10) == 0 {
			l = 0
		}
		out[i] = make([]byte, l)
		for j := range out[i] {
			out[i][j] = byte(r.Uint32())
		}
	}
	return out
}

// TestRoundTrip writes ledgers of many shapes and reads every range back byte-equal.
func TestRoundTrip(t *testing.T) {
	ctx := testCtx(t)
	s := memstore.New()
	r := testenv.Rand(t)
	for _, tc := range []struct {
		n, maxLen, blockSize int
	}{
		{0, 0, 64},
		{1, 10, 64},
		{1, 0, 64},
		{50, 100, 256},
		{200, 3000, 1024}, // many entries larger than a block
		{1000, 300, DefaultBlockSize},
	} {
		t.Run(fmt.Sprintf("n%d-max%d-block%d", tc.n, tc.maxLen, tc.blockSize), func(t *testing.T) {
			entries := randomEntries(t, tc.n, tc.maxLen)
			l := Ledger{ID: int64(r.IntN(1 << 40)), UUID: NewUUID(), Metadata: []byte("md")}
			key := fmt.Sprintf("ledgers/%d-%s", l.ID, l.UUID)
			written := writeLedger(t, ctx, s, key, l, tc.blockSize, entries)
			rd, err := Open(ctx, s, key)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			idx := rd.Index()
			if idx.LedgerID != l.ID || idx.UUID != l.UUID || string(idx.Metadata) != "md" ||
				idx.EntryCount != int64(tc.n) || idx.BlockSize != int64(tc.blockSize) {
				t.Fatalf("index %+v does not describe ledger %+v with %d entries", idx, l, tc.n)
			}
			if len(idx.Blocks) != len(written.Blocks) || idx.TotalSize != written.TotalSize {
				t.Fatalf("read index (%d blocks, %d bytes) differs from written (%d, %d)",
					len(idx.Blocks), idx.TotalSize, len(written.Blocks), written.TotalSize)
			}
			for i, bl := range idx.Blocks {
				if bl.Entries > 1 && bl.Length > int64(tc.blockSize) {
					t.Fatalf("block %d holds %d entries in %d bytes, over the block size", i, bl.Entries, bl.Length)
				}
			}
			if err := rd.Verify(ctx); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if tc.n == 0 {
				if _, err := rd.Read(ctx, 0, 0); err == nil {
					t.Fatal("Read of an empty ledger succeeded")
				}
				return
			}
			got, err := rd.Read(ctx, 0, int64(tc.n-1))
			if err != nil {
				t.Fatal(err)
			}
			checkEntries(t, got, entries, 0)
			for range 20 {
				first := r.Int64N(int64(tc.n))
				last := first + r.Int64N(int64(tc.n)-first)
				got, err := rd.Read(ctx, first, last)
				if err != nil {
					t.Fatalf("Read(%d, %d): %v", first, last, err)
				}
				checkEntries(t, got, entries[first:last+1], first)
			}
			for _, bad := range [][2]int64{{-1, 0}, {0, int64(tc.n)}, {1, 0}} {
				if _, err := rd.Read(ctx, bad[0], bad[1]); err == nil {
					t.Errorf("Read(%d, %d) succeeded", bad[0], bad[1])
				}
			}
		})
	}
}

func checkEntries(t *testing.T, got, want [][]byte, first int64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("entry %d: %d bytes %x, want %d bytes", first+int64(i), len(got[i]), got[i][:min(8, len(got[i]))], len(want[i]))
		}
	}
}

// TestLargeIndex reads an index bigger than Open's first tail read.
func TestLargeIndex(t *testing.T) {
	ctx := testCtx(t)
	s := memstore.New()
	entries := randomEntries(t, 40_000, 3) // 160 KB of index
	writeLedger(t, ctx, s, "big", Ledger{ID: 1}, 4096, entries)
	rd, err := Open(ctx, s, "big")
	if err != nil {
		t.Fatal(err)
	}
	got, err := rd.Read(ctx, 39_990, 39_999)
	if err != nil {
		t.Fatal(err)
	}
	checkEntries(t, got, entries[39_990:], 39_990)
}

// TestFlippedBytes flips every byte of a small object in turn: each flip is detected as
// corruption by Open, Read or Verify — never wrong entry bytes — and a flip inside a block
// is a ChecksumError naming the ledger and that block.
func TestFlippedBytes(t *testing.T) {
	ctx := testCtx(t)
	entries := [][]byte{[]byte("alpha"), []byte("bravo-bravo"), {}, []byte("charlie"), bytes.Repeat([]byte("d"), 40)}
	base := memstore.New()
	idx := writeLedger(t, ctx, base, "k", Ledger{ID: 9, Metadata: []byte("meta")}, 16, entries)
	info, _ := base.Stat(ctx, "k")
	object, _ := base.GetRange(ctx, "k", 0, info.Size)
	for off := range int64(len(object)) {
		for _, mask := range []byte{0x01, 0x80} {
			s := memstore.New()
			s.Put(ctx, "k", bytes.NewReader(object))
			s.Corrupt("k", off, mask)
			err := readAll(ctx, s, entries)
			if !errors.Is(err, tiered.ErrCorrupt) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("flip %#02x at byte %d: %v, want corruption detected", mask, off, err)
			}
			for i, bl := range idx.Blocks {
				if off >= bl.Offset && off < bl.Offset+bl.Length {
					var ce *tiered.ChecksumError
					if !errors.As(err, &ce) || ce.Ledger != 9 || ce.Block != i || ce.Key != "k" {
						t.Fatalf("flip at byte %d (block %d): %v, want a ChecksumError for ledger 9 block %d", off, i, err, i)
					}
				}
			}
		}
	}
}

// readAll opens, verifies and reads every entry, checking any bytes it gets.
func readAll(ctx context.Context, s tiered.ObjectStore, want [][]byte) error {
	rd, err := Open(ctx, s, "k")
	if err != nil {
		return err
	}
	got, err := rd.Read(ctx, 0, int64(len(want)-1))
	if err != nil {
		return err
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			return fmt.Errorf("WRONG BYTES for entry %d", i)
		}
	}
	return rd.Verify(ctx)
}

func TestWriterRefusesGaps(t *testing.T) {
	ctx := testCtx(t)
	s := memstore.New()
	w, err := NewWriter(ctx, s, "k", Ledger{ID: 1}, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append(0, []byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(2, []byte("c")); err == nil {
		t.Fatal("Append skipped entry 1 without an error")
	}
	if _, err := w.Close(); err == nil {
		t.Fatal("Close after a failed Append succeeded")
	}
	if _, err := s.Stat(ctx, "k"); !errors.Is(err, tiered.ErrNotFound) {
		t.Fatalf("a failed writer left an object: %v", err)
	}
}

func TestAbortLeavesNothing(t *testing.T) {
	ctx := testCtx(t)
	s := memstore.New()
	w, err := NewWriter(ctx, s, "k", Ledger{ID: 1}, WriterOptions{BlockSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := w.Append(int64(i), []byte("0123456789")); err != nil {
			t.Fatal(err)
		}
	}
	w.Abort()
	w.Abort() // idempotent
	if _, err := s.Stat(ctx, "k"); !errors.Is(err, tiered.ErrNotFound) {
		t.Fatalf("an aborted writer left an object: %v", err)
	}
	if err := w.Append(10, nil); err == nil {
		t.Fatal("Append after Abort succeeded")
	}
}

// downStore fails every Put after reading 20 bytes of its body, as a server that drops
// the connection mid-upload.
type downStore struct{ *memstore.Store }

var errStoreDown = errors.New("store down")

func (downStore) Put(_ context.Context, _ string, body io.Reader) error {
	io.ReadFull(body, make([]byte, 20))
	return errStoreDown
}

func TestStoreFailureSurfaces(t *testing.T) {
	ctx := testCtx(t)
	s := &downStore{Store: memstore.New()}
	w, err := NewWriter(ctx, s, "k", Ledger{ID: 1}, WriterOptions{BlockSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	var appendErr error
	for i := 0; i < 100 && appendErr == nil; i++ {
		appendErr = w.Append(int64(i), []byte("0123456789"))
	}
	_, closeErr := w.Close()
	if !errors.Is(appendErr, errStoreDown) && !errors.Is(closeErr, errStoreDown) {
		t.Fatalf("append error %v, close error %v; want the store's error", appendErr, closeErr)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := testCtx(t)
	s := memstore.New()
	if _, err := Open(ctx, s, "missing"); !errors.Is(err, tiered.ErrNotFound) {
		t.Fatalf("Open of a missing object: %v", err)
	}
	s.Put(ctx, "short", bytes.NewReader([]byte("too short")))
	if _, err := Open(ctx, s, "short"); !errors.Is(err, tiered.ErrCorrupt) {
		t.Fatalf("Open of a short object: %v", err)
	}
	// A future version is reported as such, not as corruption.
	writeLedger(t, ctx, s, "v1", Ledger{ID: 3}, 64, [][]byte{[]byte("x")})
	info, _ := s.Stat(ctx, "v1")
	obj, _ := s.GetRange(ctx, "v1", 0, info.Size)
	f := obj[len(obj)-FooterSize:]
	le.PutUint16(f[16:], 2)
	le.PutUint32(f[20:], crc32c(f[:20]))
	s.Put(ctx, "v2", bytes.NewReader(obj))
	if _, err := Open(ctx, s, "v2"); !errors.Is(err, ErrUnsupportedVersion) || errors.Is(err, tiered.ErrCorrupt) {
		t.Fatalf("Open of a version-2 object: %v", err)
	}
}

func TestUUID(t *testing.T) {
	a, b := NewUUID(), NewUUID()
	if a == b {
		t.Fatal("two NewUUIDs are equal")
	}
	if s := a.String(); len(s) != 36 || s[14] != '4' || s[8] != '-' {
		t.Fatalf("UUID %s is not a formatted version-4 UUID", s)
	}
	u := UUID{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	if got := u.String(); got != "00010203-0405-0607-0809-0a0b0c0d0e0f" {
		t.Fatalf("String() = %s", got)
	}
}
