package managedledger

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/strata-io/strata/broker/managedledger/cursor"
)

// BenchmarkCatchUpRead measures a catch-up reader of the managed ledger: a backlog
// written before this owner opened the topic (so nothing is in the entry cache) read
// from the start with ReadEntries and Next, `ask` entries a call, as a subscription's
// dispatcher asks (its permits over the entries' messages). One real in-process bookie
// (E=Qw=Qa=1, real etcd, real store). One op is one entry; MB/s is payload.
//
// With consumer=D the reader pauses D after each call, standing for the time the
// dispatcher takes to hand the entries to its consumers before it asks again (2 ms:
// 8 × 64 KiB at ~250 MB/s): what read-ahead can overlap with the next bookie read.
func BenchmarkCatchUpRead(b *testing.B) { benchCatchUp(b, Config{}) }

func benchCatchUp(b *testing.B, cfg Config) { benchCatchUpFrom(b, cfg, nil) }

// benchCatchUpFrom is benchCatchUp with, when prepare is set, a step between writing
// the backlog and reading it (offloading it, offloadbench_test.go).
func benchCatchUpFrom(b *testing.B, cfg Config, prepare func(b *testing.B, c *cluster, topic string)) {
	c := newCluster(b, 1)
	for _, tc := range []struct {
		name    string
		size    int
		entries int
		ask     int
		pause   time.Duration
	}{
		{"1KiB", 1 << 10, 20_000, 100, 0},
		{"64KiB", 64 << 10, 1_000, 8, 0},
		{"64KiB", 64 << 10, 1_000, 8, 2 * time.Millisecond},
	} {
		name := fmt.Sprintf("%s/ask=%d", tc.name, tc.ask)
		if tc.pause > 0 {
			name += fmt.Sprintf("/consumer=%s", tc.pause)
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			topic := "persistent://t/ns/catchup-" + strings.ReplaceAll(name, "/", "-")
			writeBacklog(b, c.factory(Config{}), topic, tc.size, tc.entries)
			if prepare != nil {
				prepare(b, c, topic)
			}
			ml, err := c.factory(cfg).Open(ctx, topic)
			if err != nil {
				b.Fatal(err)
			}
			defer ml.Close(ctx)
			b.SetBytes(int64(tc.size))
			b.ResetTimer()
			cpu0 := cpuTime(b)
			p := cursor.Earliest()
			for read := 0; read < b.N; {
				ents, err := ml.ReadEntries(ctx, p, min(tc.ask, b.N-read))
				if err != nil {
					b.Fatal(err)
				}
				if len(ents) == 0 { // the end of the backlog: start over
					p = cursor.Earliest()
					continue
				}
				read += len(ents)
				p = ml.Next(ents[len(ents)-1].Pos)
				if tc.pause > 0 {
					time.Sleep(tc.pause) // the consumers' share of the time, not a wait for an event
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
			b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// writeBacklog appends n entries of size bytes to the topic with 256 in flight and
// closes it. A durable cursor at the start keeps the backlog from being trimmed.
func writeBacklog(b *testing.B, f *Factory, name string, size, n int) {
	b.Helper()
	ctx := context.Background()
	ml, err := f.Open(ctx, name)
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := ml.OpenCursor(ctx, "backlog", Earliest); err != nil {
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
		ml.AsyncAdd(p, func(_ Position, err error) {
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
	if err := ml.Close(ctx); err != nil {
		b.Fatal(err)
	}
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
