package ledger_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/strata-io/strata/bookie/bookietest"
	"github.com/strata-io/strata/bookie/ledger"
)

// BenchmarkLedgerAdd measures pipelined adds of 1 KiB entries through the real client
// against in-process bookies (real etcd, real store with fsync): entries/s and the
// add latency percentiles, with 1 and 64 adds in flight.
func BenchmarkLedgerAdd(b *testing.B) {
	c := bookietest.Start(b, "/ledgertest", 3)
	cl := c.NewClient()
	payload := make([]byte, 1024)
	for i := range payload {
		payload[i] = byte(i)
	}
	for _, q := range []struct {
		name string
		opts ledger.CreateOptions
	}{
		{"E1Qw1Qa1", ledger.CreateOptions{EnsembleSize: 1, WriteQuorum: 1, AckQuorum: 1}},
		{"E3Qw2Qa2", ledger.CreateOptions{EnsembleSize: 3, WriteQuorum: 2, AckQuorum: 2}},
	} {
		for _, inflight := range []int{1, 64, 256} {
			b.Run(fmt.Sprintf("%s/inflight=%d", q.name, inflight), func(b *testing.B) {
				ctx := context.Background()
				w, err := cl.Create(ctx, q.opts)
				if err != nil {
					b.Fatal(err)
				}
				lat := make([]time.Duration, b.N)
				sem := make(chan struct{}, inflight)
				var wg sync.WaitGroup
				var failed error
				var mu sync.Mutex
				b.SetBytes(int64(len(payload)))
				b.ResetTimer()
				start := time.Now()
				for i := 0; i < b.N; i++ {
					sem <- struct{}{}
					wg.Add(1)
					t0 := time.Now()
					w.AppendAsync(payload, func(id int64, err error) {
						lat[i] = time.Since(t0)
						if err != nil {
							mu.Lock()
							failed = err
							mu.Unlock()
						}
						<-sem
						wg.Done()
					})
				}
				wg.Wait()
				elapsed := time.Since(start)
				b.StopTimer()
				if failed != nil {
					b.Fatal(failed)
				}
				if err := w.Close(ctx); err != nil {
					b.Fatal(err)
				}
				slices.Sort(lat)
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "entries/s")
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			})
		}
	}
}
