package s3_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-io/strata/internal/testenv"
	"github.com/strata-io/strata/tiered"
	"github.com/strata-io/strata/tiered/offload"
	tiereds3 "github.com/strata-io/strata/tiered/s3"
	"github.com/strata-io/strata/tiered/s3/s3test"
)

// TestOffloadOverTLS streams a ledger of about 12 MiB through the offload writer into
// versitygw over HTTPS (a multipart upload fed from a pipe), reads every entry back
// byte-equal, then damages one byte of the stored file and sees the reader refuse that
// block with a ChecksumError while the other blocks still read.
func TestOffloadOverTLS(t *testing.T) {
	ctx := testenv.Context(t, 2*time.Minute)
	srv := s3test.Start(t, true)
	bucket := srv.NewBucket(t)
	cfg := srv.Config(bucket)
	cfg.PartSize, cfg.MultipartThreshold = tiereds3.MinPartSize, tiereds3.MinPartSize
	st, err := tiereds3.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := testenv.Rand(t)
	entries := make([][]byte, 3000)
	for i := range entries {
		entries[i] = make([]byte, 1+r.IntN(8<<10))
		for j := range entries[i] {
			entries[i][j] = byte(r.Uint32())
		}
	}
	l := offload.Ledger{ID: 1234, UUID: offload.NewUUID(), Metadata: []byte("ledger metadata")}
	key := fmt.Sprintf("public/default/persistent/t/%d-%s", l.ID, l.UUID)
	w, err := offload.NewWriter(ctx, st, key, l, offload.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range entries {
		if err := w.Append(int64(i), e); err != nil {
			w.Abort()
			t.Fatal(err)
		}
	}
	idx, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Blocks) < 10 {
		t.Fatalf("only %d blocks for %d bytes", len(idx.Blocks), idx.TotalSize)
	}

	rd, err := offload.Open(ctx, st, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := rd.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := rd.Read(ctx, 0, int64(len(entries)-1))
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if string(got[i]) != string(entries[i]) {
			t.Fatalf("entry %d differs after the round trip over TLS", i)
		}
	}

	// Flip a byte in the middle of block 3, in the server's own file.
	bl := idx.Blocks[3]
	path := filepath.Join(srv.Root, bucket, filepath.FromSlash(key))
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	f.ReadAt(b, bl.Offset+bl.Length/2)
	b[0] ^= 0x20
	f.WriteAt(b, bl.Offset+bl.Length/2)
	f.Close()

	_, err = rd.Read(ctx, bl.FirstEntry, bl.FirstEntry)
	var ce *tiered.ChecksumError
	if !errors.As(err, &ce) || ce.Ledger != l.ID || ce.Block != 3 {
		t.Fatalf("read of the damaged block: %v, want a ChecksumError for ledger %d block 3", err, l.ID)
	}
	next := idx.Blocks[4]
	if _, err := rd.Read(ctx, next.FirstEntry, next.FirstEntry+next.Entries-1); err != nil {
		t.Fatalf("the undamaged next block: %v", err)
	}
}
