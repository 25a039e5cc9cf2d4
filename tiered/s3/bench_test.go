package s3_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/strata-io/strata/internal/testenv"
	"github.com/strata-io/strata/tiered"
	"github.com/strata-io/strata/tiered/offload"
	tiereds3 "github.com/strata-io/strata/tiered/s3"
	"github.com/strata-io/strata/tiered/s3/s3test"
)

// benchLedger is 64 MiB in 1 KiB entries, a typical batched-producer ledger.
const (
	benchEntries   = 64 << 10
	benchEntrySize = 1 << 10
)

func benchStore(b *testing.B, tls bool) (context.Context, *tiereds3.Store) {
	ctx := testenv.Context(b, 10*time.Minute)
	srv := s3test.Start(b, tls)
	return ctx, srv.Store(b, ctx, 0, 0) // production multipart defaults
}

func writeBenchLedger(b *testing.B, ctx context.Context, st tiered.ObjectStore, key string) {
	entry := make([]byte, benchEntrySize)
	for i := range entry {
		entry[i] = byte(i * 7)
	}
	w, err := offload.NewWriter(ctx, st, key, offload.Ledger{ID: 1, UUID: offload.NewUUID()}, offload.WriterOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for e := range benchEntries {
		if err := w.Append(int64(e), entry); err != nil {
			w.Abort()
			b.Fatal(err)
		}
	}
	if _, err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkOffloadWrite: offload throughput of a 64 MiB ledger into versitygw.
func BenchmarkOffloadWrite(b *testing.B) {
	for _, tls := range []bool{false, true} {
		b.Run(fmt.Sprintf("tls=%v", tls), func(b *testing.B) {
			ctx, st := benchStore(b, tls)
			b.SetBytes(benchEntries * benchEntrySize)
			for i := 0; b.Loop(); i++ {
				writeBenchLedger(b, ctx, st, fmt.Sprintf("bench/%d", i))
			}
		})
	}
}

// BenchmarkOffloadCatchUpRead: a catch-up reader of a whole offloaded 64 MiB ledger, one
// 1 MiB block GET at a time, no cache and no read-ahead (the broker adds those).
func BenchmarkOffloadCatchUpRead(b *testing.B) {
	for _, tls := range []bool{false, true} {
		b.Run(fmt.Sprintf("tls=%v", tls), func(b *testing.B) {
			ctx, st := benchStore(b, tls)
			writeBenchLedger(b, ctx, st, "bench/read")
			b.SetBytes(benchEntries * benchEntrySize)
			for b.Loop() {
				rd, err := offload.Open(ctx, st, "bench/read")
				if err != nil {
					b.Fatal(err)
				}
				for first := int64(0); first < benchEntries; first += 1000 {
					if _, err := rd.Read(ctx, first, min(first+999, benchEntries-1)); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
