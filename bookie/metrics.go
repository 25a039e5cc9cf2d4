package bookie

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics is the bookie's Prometheus collector (docs/metrics.md). Gauges and the store's
// counters are read at scrape time; add latency is observed on the add path through
// server.Config.ObserveAdd, on the store's completer goroutine, so observeAdd takes no
// lock of the bookie's.
//
// Names: BookKeeper's where Pulsar's dashboards query one (bookie_SERVER_STATUS,
// bookie_ledgers_count, bookie_ledger_writable_dirs, bookie_WRITE_BYTES,
// bookkeeper_server_ADD_ENTRY as a summary in milliseconds with a success label), and
// bookie_* names of our own for the rest, including the Prometheus histogram.
type metrics struct {
	b *Bookie

	addHist    *prometheus.HistogramVec
	addSummary *prometheus.SummaryVec
	writeBytes prometheus.Counter
	// The children of the two vectors, by outcome, looked up once.
	histOK, histFail, sumOK, sumFail prometheus.Observer
}

var (
	descServerStatus  = prometheus.NewDesc("bookie_SERVER_STATUS", "1 while the bookie accepts writes, 0 while it is read-only.", nil, nil)
	descWritableDirs  = prometheus.NewDesc("bookie_ledger_writable_dirs", "Data directories the bookie can write to (1, or 0 when read-only).", nil, nil)
	descDiskUsage     = prometheus.NewDesc("bookie_disk_usage_ratio", "Used fraction (0..1) of the file system holding the data dir, at the last check.", nil, nil)
	descLedgers       = prometheus.NewDesc("bookie_ledgers_count", "Ledgers stored on this bookie.", nil, nil)
	descEntriesAdded  = prometheus.NewDesc("bookie_entries_added_total", "Entries written to the store since the bookie started.", nil, nil)
	descStoreBatches  = prometheus.NewDesc("bookie_store_batches_total", "Store batches committed since the bookie started (group commit).", nil, nil)
	descStoreSyncs    = prometheus.NewDesc("bookie_store_syncs_total", "Store batches committed with an fsync since the bookie started.", nil, nil)
	addLatencyBuckets = prometheus.ExponentialBuckets(0.0001, 2, 16) // 0.1 ms .. ~3.3 s
)

func newMetrics(b *Bookie) *metrics {
	m := &metrics{
		b: b,
		addHist: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bookie_add_entry_latency_seconds",
			Help:    "Time from an add reaching the store to it being durable (or failing).",
			Buckets: addLatencyBuckets,
		}, []string{"success"}),
		addSummary: prometheus.NewSummaryVec(prometheus.SummaryOpts{
			Name:       "bookkeeper_server_ADD_ENTRY",
			Help:       "Add entry latency in milliseconds (BookKeeper's name and unit).",
			Objectives: map[float64]float64{0.5: 0.01, 0.75: 0.01, 0.95: 0.005, 0.99: 0.001, 0.999: 0.0001, 0.9999: 0.00001},
			MaxAge:     time.Minute,
		}, []string{"success"}),
		writeBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bookie_WRITE_BYTES",
			Help: "Payload bytes of the entries added successfully.",
		}),
	}
	m.histOK, m.histFail = m.addHist.WithLabelValues("true"), m.addHist.WithLabelValues("false")
	m.sumOK, m.sumFail = m.addSummary.WithLabelValues("true"), m.addSummary.WithLabelValues("false")
	return m
}

// observeAdd is server.Config.ObserveAdd.
func (m *metrics) observeAdd(d time.Duration, size int, err error) {
	h, s := m.histOK, m.sumOK
	if err != nil {
		h, s = m.histFail, m.sumFail
	} else {
		m.writeBytes.Add(float64(size))
	}
	h.Observe(d.Seconds())
	s.Observe(float64(d) / float64(time.Millisecond))
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descServerStatus, descWritableDirs, descDiskUsage, descLedgers,
		descEntriesAdded, descStoreBatches, descStoreSyncs} {
		ch <- d
	}
	m.addHist.Describe(ch)
	m.addSummary.Describe(ch)
	m.writeBytes.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	writable := 1.0
	if m.b.srv.ReadOnly() {
		writable = 0
	}
	st := m.b.st.Stats()
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	gauge(descServerStatus, writable)
	gauge(descWritableDirs, writable)
	gauge(descDiskUsage, m.b.DiskUsage())
	gauge(descLedgers, float64(st.Ledgers))
	counter(descEntriesAdded, st.Entries)
	counter(descStoreBatches, st.Batches)
	counter(descStoreSyncs, st.Syncs)
	m.addHist.Collect(ch)
	m.addSummary.Collect(ch)
	m.writeBytes.Collect(ch)
}
