package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	dto "github.com/prometheus/client_model/go"
)

// BenchmarkStoreAdd measures durable 1 KiB adds on the real disk under t.TempDir, with 1
// and with 64 adds in flight. With one in flight every add pays an fsync; with 64 the
// pipeline shares each fsync among the adds that arrived while the previous one was in
// progress. Metrics: entries/batch is what the builder put into one synced batch,
// entries/fsync is per WAL fsync Pebble really made (batches in flight together share
// one).
//
// The "pipeline" sub-benchmarks vary the number of batches in flight at 64 adds in
// flight (1 = no pipelining: build, apply, fsync, answer, one batch at a time).
func BenchmarkStoreAdd(b *testing.B) {
	for _, inflight := range []int{1, 64} {
		b.Run(fmt.Sprintf("inflight=%d", inflight), func(b *testing.B) {
			benchStoreAdd(b, Options{}, inflight)
		})
	}
	for _, depth := range []int{1, 2, 3, 4, 8} {
		b.Run(fmt.Sprintf("pipeline=%d/inflight=64", depth), func(b *testing.B) {
			benchStoreAdd(b, Options{batchesInFlight: depth}, 64)
		})
	}
}

func benchStoreAdd(b *testing.B, opts Options, inflight int) {
	payload := make([]byte, 1024)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	crc := Checksum(payload)
	s, err := Open(b.TempDir(), opts)
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
	before, fsyncsBefore, fsyncTimeBefore := s.Stats(), walFsyncs(b, s.db), walFsyncTime(b, s.db)
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
	entries := float64(st.Entries - before.Entries)
	if syncs := st.Syncs - before.Syncs; syncs > 0 {
		b.ReportMetric(entries/float64(syncs), "entries/batch")
	}
	if fsyncs := walFsyncs(b, s.db) - fsyncsBefore; fsyncs > 0 {
		b.ReportMetric(entries/float64(fsyncs), "entries/fsync")
		b.ReportMetric((walFsyncTime(b, s.db)-fsyncTimeBefore).Seconds()*1e6/float64(fsyncs), "fsync-µs")
	}
}

// walFsyncs is the number of WAL fsyncs db has made, from Pebble's fsync latency
// histogram.
func walFsyncs(b *testing.B, db *pebble.DB) uint64 {
	return walFsyncHistogram(b, db).GetSampleCount()
}

// walFsyncTime is the time db has spent in WAL fsyncs.
func walFsyncTime(b *testing.B, db *pebble.DB) time.Duration {
	return time.Duration(walFsyncHistogram(b, db).GetSampleSum()) // observed in nanoseconds
}

func walFsyncHistogram(b *testing.B, db *pebble.DB) *dto.Histogram {
	var m dto.Metric
	if err := db.Metrics().LogWriter.FsyncLatency.Write(&m); err != nil {
		b.Fatal(err)
	}
	return m.GetHistogram()
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
