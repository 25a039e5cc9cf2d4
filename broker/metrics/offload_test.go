package metrics

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/strata-io/strata/broker/managedledger"
)

// offloadCounters is a scripted OffloadSource.
type offloadCounters struct {
	mu sync.Mutex
	m  managedledger.OffloadMetrics
}

func (o *offloadCounters) read() managedledger.OffloadMetrics {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.m
}

func (o *offloadCounters) set(m managedledger.OffloadMetrics) {
	o.mu.Lock()
	o.m = m
	o.mu.Unlock()
}

func TestOffloadMetrics(t *testing.T) {
	src := &fakeSource{}
	src.set(TopicSnapshot{Key: &topicKey{"t1"}, Namespace: ns, Topic: tp, StorageSize: 5000, OffloadedSize: 3000})
	oc := &offloadCounters{}
	oc.set(managedledger.OffloadMetrics{OffloadedBytes: 1000, OffloadErrors: 2, WriteStorageErrors: 1, ReadBytes: 400,
		ReadErrors: 3, DeleteOK: 5, DeleteFailed: 1, OrphansRemoved: 4, ReadLatencySumMicros: 900, ReadCount: 6})
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	c := New(Config{Cluster: "c1", Source: src, Offload: oc.read, Now: clk.now})

	clk.advance(2 * time.Second)
	got := scrape(t, c)
	cl := `{cluster="c1"}`
	want := map[string]float64{
		"pulsar_storage_offloaded_size" + lbl(""):                               3000,
		"pulsar_storage_size" + lbl(""):                                         5000,
		"brk_ledgeroffloader_offload_error" + cl:                                2,
		"brk_ledgeroffloader_write_storage_error" + cl:                          1,
		"brk_ledgeroffloader_read_offload_error" + cl:                           3,
		`brk_ledgeroffloader_delete_offload_ops{cluster="c1",status="success"}`: 5,
		`brk_ledgeroffloader_delete_offload_ops{cluster="c1",status="failure"}`: 1,
		"strata_ledgeroffloader_offloaded_bytes_total" + cl:                     1000,
		"strata_ledgeroffloader_read_bytes_total" + cl:                          400,
		"strata_ledgeroffloader_orphans_removed_total" + cl:                     4,
		"brk_ledgeroffloader_read_offload_data_latency" + cl:                    6, // sample count
		// Rates over the 2 s since the collector started.
		"brk_ledgeroffloader_offload_rate" + cl:      500,
		"brk_ledgeroffloader_read_offload_rate" + cl: 200,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}

	// The next window: 3000 more bytes offloaded in 3 s, nothing read.
	oc.set(managedledger.OffloadMetrics{OffloadedBytes: 4000, ReadBytes: 400})
	clk.advance(3 * time.Second)
	got = scrape(t, c)
	if r := got["brk_ledgeroffloader_offload_rate"+cl]; r != 1000 {
		t.Errorf("offload rate %v, want 1000", r)
	}
	if r := got["brk_ledgeroffloader_read_offload_rate"+cl]; r != 0 {
		t.Errorf("read rate %v, want 0", r)
	}

	if err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP brk_ledgeroffloader_read_offload_data_latency Latency of whole-block reads from the object store, in microseconds.
# TYPE brk_ledgeroffloader_read_offload_data_latency summary
brk_ledgeroffloader_read_offload_data_latency_sum{cluster="c1"} 0
brk_ledgeroffloader_read_offload_data_latency_count{cluster="c1"} 0
`), "brk_ledgeroffloader_read_offload_data_latency"); err != nil {
		t.Fatal(err)
	}
}

// Without an offload source the collector reports no offloader series, but the
// per-topic offloaded size still (0 for a broker without tiered storage).
func TestNoOffloadSource(t *testing.T) {
	src := &fakeSource{}
	src.set(TopicSnapshot{Key: &topicKey{"t1"}, Namespace: ns, Topic: tp})
	c, _ := newTestCollector(src)
	got := scrape(t, c)
	for k := range got {
		if strings.Contains(k, "ledgeroffloader") {
			t.Errorf("series %s without an offload source", k)
		}
	}
	if v, ok := got["pulsar_storage_offloaded_size"+lbl("")]; !ok || v != 0 {
		t.Errorf("pulsar_storage_offloaded_size = %v, %v", v, ok)
	}
}
