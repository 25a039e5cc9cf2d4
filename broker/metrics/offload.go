package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-io/strata/broker/managedledger"
)

// Tiered-storage metrics, Pulsar's LedgerOffloaderStats names (brk_ledgeroffloader_*,
// registered with that prefix in Pulsar too) plus Strata's own cumulative byte and
// orphan counts. The managed-ledger Factory counts for the whole broker, so the series
// carry only the cluster label, not Pulsar's namespace/topic. The two rates are over
// the same window as the topic rates (Config.MinInterval).

var (
	offloadLabels         = []string{"cluster"}
	descOffloadError      = prometheus.NewDesc("brk_ledgeroffloader_offload_error", "Failed ledger offload attempts.", offloadLabels, nil)
	descWriteStorageError = prometheus.NewDesc("brk_ledgeroffloader_write_storage_error", "Failed writes (and read-back verifications) of offloaded objects to the object store.", offloadLabels, nil)
	descReadOffloadError  = prometheus.NewDesc("brk_ledgeroffloader_read_offload_error", "Failed reads of offloaded ledgers.", offloadLabels, nil)
	descOffloadRate       = prometheus.NewDesc("brk_ledgeroffloader_offload_rate", "Bytes per second offloaded to the object store.", offloadLabels, nil)
	descReadOffloadRate   = prometheus.NewDesc("brk_ledgeroffloader_read_offload_rate", "Bytes per second read from offloaded ledgers.", offloadLabels, nil)
	descReadDataLatency   = prometheus.NewDesc("brk_ledgeroffloader_read_offload_data_latency", "Latency of whole-block reads from the object store, in microseconds.", offloadLabels, nil)
	descDeleteOffloadOps  = prometheus.NewDesc("brk_ledgeroffloader_delete_offload_ops", "Deletions of offloaded objects (cleanup, retention, orphans) by outcome.", []string{"cluster", "status"}, nil)
	descOffloadedBytes    = prometheus.NewDesc("strata_ledgeroffloader_offloaded_bytes_total", "Bytes copied by completed ledger offloads.", offloadLabels, nil)
	descReadOffloadBytes  = prometheus.NewDesc("strata_ledgeroffloader_read_bytes_total", "Bytes served from offloaded ledgers.", offloadLabels, nil)
	descOffloadOrphans    = prometheus.NewDesc("strata_ledgeroffloader_orphans_removed_total", "Offloaded objects no ledger record referenced, removed by the orphan sweep.", offloadLabels, nil)
	offloadDescs          = []*prometheus.Desc{descOffloadError, descWriteStorageError, descReadOffloadError, descOffloadRate,
		descReadOffloadRate, descReadDataLatency, descDeleteOffloadOps, descOffloadedBytes, descReadOffloadBytes, descOffloadOrphans}
)

// offloadKey keys the rate window of the broker's offload counters in
// Collector.windows.
type offloadKey struct{}

func describeOffload(ch chan<- *prometheus.Desc) {
	for _, d := range offloadDescs {
		ch <- d
	}
}

// offloadLocked appends the offload series for m to out; the rates roll the offload
// window (bytes offloaded as "in", bytes read as "out").
func (c *Collector) offloadLocked(out []prometheus.Metric, m managedledger.OffloadMetrics, now time.Time) []prometheus.Metric {
	cl := c.cfg.Cluster
	w := c.windowLocked(offloadKey{})
	w.roll(counters{bytesIn: m.OffloadedBytes, bytesOut: m.ReadBytes}, now, c.cfg.MinInterval)
	add := func(d *prometheus.Desc, t prometheus.ValueType, v int64, labels ...string) {
		out = append(out, prometheus.MustNewConstMetric(d, t, float64(v), append([]string{cl}, labels...)...))
	}
	add(descOffloadError, prometheus.CounterValue, m.OffloadErrors)
	add(descWriteStorageError, prometheus.CounterValue, m.WriteStorageErrors)
	add(descReadOffloadError, prometheus.CounterValue, m.ReadErrors)
	add(descDeleteOffloadOps, prometheus.CounterValue, m.DeleteOK, "success")
	add(descDeleteOffloadOps, prometheus.CounterValue, m.DeleteFailed, "failure")
	add(descOffloadedBytes, prometheus.CounterValue, m.OffloadedBytes)
	add(descReadOffloadBytes, prometheus.CounterValue, m.ReadBytes)
	add(descOffloadOrphans, prometheus.CounterValue, m.OrphansRemoved)
	out = append(out,
		prometheus.MustNewConstMetric(descOffloadRate, prometheus.GaugeValue, w.tputIn, cl),
		prometheus.MustNewConstMetric(descReadOffloadRate, prometheus.GaugeValue, w.tputOut, cl),
		prometheus.MustNewConstSummary(descReadDataLatency, uint64(max(m.ReadCount, 0)), float64(m.ReadLatencySumMicros), nil, cl))
	return out
}
