package ledger_test

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/strata-io/strata/bookie/bookietest"
	"github.com/strata-io/strata/bookie/ledger"
)

// BenchmarkReaderRead measures Reader.Read over real in-process bookies (real etcd,
// real store, loopback gRPC): a closed ledger is read front to back in calls of `batch`
// entries, as a catch-up reader does. One op is one entry; MB/s is payload.
func BenchmarkReaderRead(b *testing.B) {
	c := bookietest.Start(b, "/ledgertest", 3)
	cl := c.NewClient()
	for _, q := range []struct {
		name string
		opts ledger.CreateOptions
	}{
		{"E1Qw1", ledger.CreateOptions{EnsembleSize: 1, WriteQuorum: 1, AckQuorum: 1}},
		{"E3Qw2", ledger.CreateOptions{EnsembleSize: 3, WriteQuorum: 2, AckQuorum: 2}},
	} {
		for _, sz := range []struct {
			name    string
			size    int
			entries int
			batch   int64
		}{
			{"1KiB", 1 << 10, 20_000, 100},
			{"64KiB", 64 << 10, 1_000, 10},
		} {
			b.Run(fmt.Sprintf("%s/%s/batch=%d", q.name, sz.name, sz.batch), func(b *testing.B) {
				ctx := context.Background()
				id := writeClosedLedger(b, cl, q.opts, sz.size, sz.entries)
				r, err := c.NewClient().OpenReader(ctx, id)
				if err != nil {
					b.Fatal(err)
				}
				n := int64(sz.entries)
				b.SetBytes(int64(sz.size))
				b.ResetTimer()
				cpu0 := cpuTime(b)
				for done := int64(0); done < int64(b.N); {
					first := done % n
					last := min(first+sz.batch, n, first+int64(b.N)-done) - 1
					ents, err := r.Read(ctx, first, last)
					if err != nil {
						b.Fatal(err)
					}
					if int64(len(ents)) != last-first+1 || len(ents[0].Payload) != sz.size {
						b.Fatalf("read %d..%d: %d entries", first, last, len(ents))
					}
					done += int64(len(ents))
				}
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
				b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// writeClosedLedger writes n entries of size bytes (distinct, incompressible enough
// not to flatter the store) with 256 adds in flight, closes the ledger and returns its id.
func writeClosedLedger(b *testing.B, cl *ledger.Client, opts ledger.CreateOptions, size, n int) int64 {
	b.Helper()
	ctx := context.Background()
	w, err := cl.Create(ctx, opts)
	if err != nil {
		b.Fatal(err)
	}
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed error
	x := uint64(0x9e3779b97f4a7c15)
	for i := range n {
		p := make([]byte, size)
		for j := range p {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			p[j] = byte(x)
		}
		p[0], p[1] = byte(i), byte(i>>8)
		sem <- struct{}{}
		wg.Add(1)
		w.AppendAsync(p, func(_ int64, err error) {
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
	if failed != nil {
		b.Fatal(failed)
	}
	if err := w.Close(ctx); err != nil {
		b.Fatal(err)
	}
	return w.ID()
}

// cpuTime is the CPU time (user + system) the test process has used: the bookies run in
// it too, so per op it is the whole read path's cost, which other load on the machine
// does not inflate the way it inflates wall-clock time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
