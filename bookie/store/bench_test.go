package store

import (
	"fmt"
	"testing"

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
			for i := 0; i < b.N; i++ {
				slots <- struct{}{}
				s.AddAsync(Add{Ledger: uint64(1 + i%8), Entry: int64(i), LAC: -1, Payload: payload, CRC32C: crc}, done)
			}
			for range inflight {
				slots <- struct{}{}
			}
			b.StopTimer()
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

// BenchmarkPebbleSyncBatch is the disk's limit for this store's write pattern: one 1 KiB
// Set per Pebble batch committed with Sync, one at a time — one fsync per op.
func BenchmarkPebbleSyncBatch(b *testing.B) {
	db, err := pebble.Open(b.TempDir(), &pebble.Options{Logger: pebbleLogger{nil}.discard()})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	payload := make([]byte, 1024)
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		batch := db.NewBatch()
		batch.Set(entryKey(1, int64(i)), payload, nil)
		if err := batch.Commit(pebble.Sync); err != nil {
			b.Fatal(err)
		}
		batch.Close()
	}
}
