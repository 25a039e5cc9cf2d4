package managedledger

import (
	"context"
	"testing"
	"time"

	"github.com/strata-io/strata/tiered"
	"github.com/strata-io/strata/tiered/fs"
	"github.com/strata-io/strata/tiered/memstore"
)

// BenchmarkCatchUpReadOffloaded is BenchmarkCatchUpRead with the backlog offloaded and
// its bookie copy deleted, so every entry comes from the object store (the filesystem
// store on a temp dir), through a 4 MiB block cache of the reading Factory: the figure
// to set next to BenchmarkCatchUpRead (issue 11 aims at ≥ 50% of the bookie rate).
func BenchmarkCatchUpReadOffloaded(b *testing.B) {
	store, err := fs.New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	off := OffloadConfig{Store: store, Driver: "filesystem"}
	// A block cache far smaller than the backlog: the benchmark reads it over and over
	// (b.N passes its end), and each pass must come from the store, not the cache.
	read := off
	read.ReadCacheBytes = 4 << 20
	benchCatchUpFrom(b, Config{Offload: read}, func(b *testing.B, c *cluster, topic string) {
		offloadAll(b, c.factory(Config{Offload: off}), topic, true)
	})
}

// offloadAll offloads every closed ledger of topic and returns the bytes copied and the
// time it took; with deleteBookies, it then deletes their bookie copies (a deletion lag
// of 0).
func offloadAll(b *testing.B, f *Factory, topic string, deleteBookies bool) (int64, time.Duration) {
	ctx := context.Background()
	ml, err := f.Open(ctx, topic)
	if err != nil {
		b.Fatal(err)
	}
	defer ml.Close(ctx)
	ls := ml.Info().Ledgers
	start := time.Now()
	if err := ml.Offload(Position{Ledger: ls[len(ls)-1].ID}); err != nil {
		b.Fatal(err)
	}
	waitFor(b, "offload", func() bool { return ml.OffloadStatus().Status != OffloadRunning })
	took := time.Since(start)
	if st := ml.OffloadStatus(); st.Status != OffloadSuccess {
		b.Fatalf("offload: %+v", st)
	}
	if deleteBookies {
		p := DefaultOffloadPolicy()
		p.DeletionLag = 0
		ml.SetOffloadPolicy(p)
		waitFor(b, "bookie copies deleted", func() bool {
			for _, li := range ml.Info().Ledgers {
				if li.Offload.Complete() && !li.Offload.BookieDeleted {
					return false
				}
			}
			return true
		})
	}
	return ml.OffloadedSize(), took
}

// BenchmarkOffload measures the offload of a 64 MiB ledger (1,000 entries of 64 KiB)
// from one in-process bookie into the in-memory and the filesystem store: copy, read
// back and verification. MB/s is the ledger's payload over the whole offload.
func BenchmarkOffload(b *testing.B) {
	for _, sc := range []struct {
		name  string
		store func(b *testing.B) tiered.ObjectStore
	}{
		{"memory", func(*testing.B) tiered.ObjectStore { return memstore.New() }},
		{"filesystem", func(b *testing.B) tiered.ObjectStore {
			s, err := fs.New(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
	} {
		b.Run(sc.name, func(b *testing.B) {
			c := newCluster(b, 1)
			store := sc.store(b)
			const size, n = 64 << 10, 1000
			b.SetBytes(size * n)
			for i := range b.N {
				b.StopTimer()
				topic := "persistent://t/ns/offload-bench-" + string(rune('a'+i%26)) + time.Now().Format("150405.000000")
				writeBacklog(b, c.factory(Config{}), topic, size, n)
				b.StartTimer()
				if got, _ := offloadAll(b, c.factory(Config{Offload: OffloadConfig{Store: store, Driver: sc.name}}), topic, false); got != size*n {
					b.Fatalf("offloaded %d bytes, want %d", got, size*n)
				}
			}
		})
	}
}
