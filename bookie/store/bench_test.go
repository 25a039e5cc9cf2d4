package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// BenchmarkStoreAdd measures durable 1 KiB adds on the real disk under t.TempDir, with 1
// and with 64 adds in flight. With one in flight every add pays an fsync; with 64 the
// committer's group commit shares each fsync among the adds queued during the previous
// one (the entries/sync metric).
func BenchmarkStoreAdd(b *testing.B) {
	payload := make([]byte, 1024)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	crc := Checksum(payload)
	for _, inflight := range []int{1, 64} {
		b.Run(fmt.Sprintf("inflight=%d", inflight), func(b *testing.B) {
			s, err := Open(b.TempDir(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			slots := make(chan struct{}, inflight)
			errs := make(chan error, 1)
			done := func(err error) {
				if err != nil {
					select {
					case errs <- err:
					default:
					}
				}
				<-slots
			}
			before := s.Stats()
			b.SetBytes(int64(len(payload)))
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				slots <- struct{}{}
				s.AddAsync(Add{Ledger: uint64(1 + i%8), Entry: int64(i), LAC: -1, Payload: payload, CRC32C: crc}, done)
			}
			for range inflight {
				slots <- struct{}{}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "entries/s")
			select {
			case err := <-errs:
				b.Fatal(err)
			default:
			}
			st := s.Stats()
			if syncs := st.Syncs - before.Syncs; syncs > 0 {
				b.ReportMetric(float64(st.Entries-before.Entries)/float64(syncs), "entries/sync")
			}
		})
	}
}

// BenchmarkPebbleSyncBatch is the disk's limit for this store's write pattern: raw
// Pebble batches of 1 KiB Sets committed with Sync, one batch at a time. batch=1 is one
// fsync per entry; batch=64 is what group commit can at best reach with 64 adds in
// flight. b.N counts entries, so ns/op and entries/s compare directly with
// BenchmarkStoreAdd.
func BenchmarkPebbleSyncBatch(b *testing.B) {
	for _, size := range []int{1, 64} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			db, err := pebble.Open(b.TempDir(), &pebble.Options{Logger: pebbleLogger{nil}.discard()})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			payload := make([]byte, 1024)
			b.SetBytes(int64(len(payload)))
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i += size {
				batch := db.NewBatch()
				for j := i; j < i+size && j < b.N; j++ {
					batch.Set(entryKey(1, int64(j)), payload, nil)
				}
				if err := batch.Commit(pebble.Sync); err != nil {
					b.Fatal(err)
				}
				batch.Close()
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "entries/s")
		})
	}
}
