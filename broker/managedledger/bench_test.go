package managedledger

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// BenchmarkAsyncAdd measures pipelined 1 KiB adds through the managed ledger (ordering,
// cache, rollover checks) over the real ledger client and one in-process bookie
// (E=Qw=Qa=1; real etcd, real store with fsync), with 1 and 256 adds in flight.
func BenchmarkAsyncAdd(b *testing.B) {
	c := newCluster(b, 1)
	payload := make([]byte, 1024)
	for i := range payload {
		payload[i] = byte(i)
	}
	for _, inflight := range []int{1, 256} {
		b.Run(fmt.Sprintf("1KiB/E1/inflight=%d", inflight), func(b *testing.B) {
			ctx := context.Background()
			ml, err := c.factory(Config{}).Open(ctx, fmt.Sprintf("persistent://t/ns/bench-%d", inflight))
			if err != nil {
				b.Fatal(err)
			}
			defer ml.Close(ctx)
			sem := make(chan struct{}, inflight)
			var wg sync.WaitGroup
			var mu sync.Mutex
			var failed error
			b.SetBytes(int64(len(payload)))
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				sem <- struct{}{}
				wg.Add(1)
				ml.AsyncAdd(payload, func(_ Position, err error) {
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
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "entries/s")
		})
	}
}
