package metrics

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a Collector.
type Config struct {
	// Cluster is the value of every series' cluster label; default "standalone".
	Cluster string
	// Source lists the live topics at scrape time (required).
	Source Source
	// Offload, if set, reads the broker's tiered-storage counters at scrape time
	// (brk_ledgeroffloader_*); nil reports none.
	Offload OffloadSource
	// MinInterval is the shortest time over which rates are computed: a scrape sooner
	// than this after the last computation repeats its figures. Default 1s.
	MinInterval time.Duration
	// Now is the clock; default time.Now. Tests inject their own.
	Now func() time.Time
}

func (c *Config) applyDefaults() {
	if c.Cluster == "" {
		c.Cluster = "standalone"
	}
	if c.MinInterval == 0 {
		c.MinInterval = time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// writeLatencyBoundsMs are the upper bounds of Pulsar's storage write latency buckets,
// in milliseconds, and writeLatencySuffix the names of the series that count them
// (pulsar_storage_write_latency_le_0_5 ...); one more bucket, "overflow", is above.
var (
	writeLatencyBoundsMs = [...]float64{0.5, 1, 5, 10, 20, 50, 100, 200, 1000}
	writeLatencySuffix   = [...]string{"le_0_5", "le_1", "le_5", "le_10", "le_20", "le_50", "le_100", "le_200", "le_1000"}
)

const nLatencyBuckets = len(writeLatencyBoundsMs) + 1

// latencyCounts are one topic's cumulative publish latency counts. Each bucket counts
// the publishes in (previous bound, bound], the last one those above 1 s (Pulsar's
// buckets are not cumulative).
type latencyCounts struct {
	buckets [nLatencyBuckets]atomic.Int64
	sumUs   atomic.Int64 // microseconds
}

func (l *latencyCounts) observe(d time.Duration) {
	ms := float64(d) / float64(time.Millisecond)
	i := 0
	for i < len(writeLatencyBoundsMs) && ms > writeLatencyBoundsMs[i] {
		i++
	}
	l.buckets[i].Add(1)
	l.sumUs.Add(d.Microseconds())
}

// counters are a topic's or subscription's cumulative figures at one scrape.
type counters struct {
	msgsIn, bytesIn, msgsOut, bytesOut int64
	lat                                [nLatencyBuckets]int64
	latSumUs                           int64
}

// window is the rate state of one topic or subscription: the counters when its figures
// were last computed, and those figures.
type window struct {
	at   time.Time
	prev counters
	// The last computed figures.
	rateIn, rateOut, tputIn, tputOut float64
	latDelta                         [nLatencyBuckets]int64
	latSumDeltaUs                    int64
}

// roll computes the figures over [w.at, now] from cur and makes cur the new start,
// unless less than min has passed since w.at (then the last figures stand). A counter
// lower than before was reset (the object was recreated): its delta counts from zero.
func (w *window) roll(cur counters, now time.Time, min time.Duration) {
	elapsed := now.Sub(w.at)
	if elapsed < min {
		return
	}
	secs := elapsed.Seconds()
	rate := func(cur, prev int64) float64 { return float64(delta(cur, prev)) / secs }
	w.rateIn, w.tputIn = rate(cur.msgsIn, w.prev.msgsIn), rate(cur.bytesIn, w.prev.bytesIn)
	w.rateOut, w.tputOut = rate(cur.msgsOut, w.prev.msgsOut), rate(cur.bytesOut, w.prev.bytesOut)
	for i := range cur.lat {
		w.latDelta[i] = delta(cur.lat[i], w.prev.lat[i])
	}
	w.latSumDeltaUs = delta(cur.latSumUs, w.prev.latSumUs)
	w.prev, w.at = cur, now
}

func delta(cur, prev int64) int64 {
	if cur < prev {
		return cur
	}
	return cur - prev
}

// Collector is a prometheus.Collector for a broker's topics. Register it with a
// prometheus.Registerer, pass ObservePublish to service.Config.ObservePublish and add
// it to service.Config.TopicHooks (without the hooks no topic has latency buckets).
//
// Collect may run concurrently (several scrapers): mu serialises the rate windows.
// ObservePublish runs on the publish path and takes no lock: a sync.Map read and
// atomic adds.
type Collector struct {
	cfg   Config
	start time.Time

	publishSummary prometheus.Summary
	publishHist    prometheus.Histogram
	// latency holds a *latencyCounts per loaded topic's Key, from the topic's
	// TopicLoaded to its TopicClosing (hooks.go): closed topics hold nothing, scraped
	// or not.
	latency sync.Map

	mu sync.Mutex
	// lastScrape is when Collect last ran (start before the first): a topic first seen
	// now is taken to have had zero counts then.
	lastScrape time.Time
	// Invariant: windows holds an entry for exactly the topic and subscription Keys of
	// the last snapshot.
	windows map[any]*window
}

// New returns a Collector.
func New(cfg Config) *Collector {
	cfg.applyDefaults()
	cl := prometheus.Labels{"cluster": cfg.Cluster}
	now := cfg.Now()
	return &Collector{
		cfg:   cfg,
		start: now,
		publishSummary: prometheus.NewSummary(prometheus.SummaryOpts{
			Name:        "pulsar_broker_publish_latency",
			Help:        "Broker publish latency in milliseconds: from the broker receiving a message to it being durable.",
			ConstLabels: cl,
			Objectives:  map[float64]float64{0.5: 0.01, 0.95: 0.005, 0.99: 0.001, 0.999: 0.0001, 0.9999: 0.00001},
			MaxAge:      time.Minute,
		}),
		publishHist: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:        "strata_broker_publish_latency_seconds",
			Help:        "Broker publish latency: from the broker receiving a message to it being durable.",
			ConstLabels: cl,
			Buckets:     prometheus.ExponentialBuckets(0.00025, 2, 16), // 0.25 ms .. ~8 s
		}),
		lastScrape: now,
		windows:    map[any]*window{},
	}
}

// ObservePublish records the latency of one successful publish to the topic with Key
// key (failed publishes are not timed, as in Pulsar). It has service.Config's
// ObservePublish signature once adapted by the caller, see broker.Start. A topic's
// own buckets count only while it is tracked (loaded, hooks.go); the broker-wide
// summary and histogram count every publish.
func (c *Collector) ObservePublish(key any, d time.Duration, err error) {
	if err != nil {
		return
	}
	c.publishSummary.Observe(float64(d) / float64(time.Millisecond))
	c.publishHist.Observe(d.Seconds())
	if l, ok := c.latency.Load(key); ok {
		l.(*latencyCounts).observe(d)
	}
}

// track starts a topic's per-topic latency counts.
func (c *Collector) track(key any) { c.latency.Store(key, new(latencyCounts)) }

// forget drops them.
func (c *Collector) forget(key any) { c.latency.Delete(key) }

// The descriptors, Pulsar's names and help texts.
var (
	topicLabels = []string{"cluster", "namespace", "topic"}
	subLabels   = []string{"cluster", "namespace", "topic", "subscription"}

	descTopicsCount  = prometheus.NewDesc("pulsar_topics_count", "Number of topics loaded on this broker.", []string{"cluster", "namespace"}, nil)
	descRateIn       = prometheus.NewDesc("pulsar_rate_in", "Messages per second published to the topic.", topicLabels, nil)
	descRateOut      = prometheus.NewDesc("pulsar_rate_out", "Messages per second dispatched from the topic.", topicLabels, nil)
	descTputIn       = prometheus.NewDesc("pulsar_throughput_in", "Bytes per second published to the topic.", topicLabels, nil)
	descTputOut      = prometheus.NewDesc("pulsar_throughput_out", "Bytes per second dispatched from the topic.", topicLabels, nil)
	descInMsgs       = prometheus.NewDesc("pulsar_in_messages_total", "Messages published to the topic since it was loaded.", topicLabels, nil)
	descInBytes      = prometheus.NewDesc("pulsar_in_bytes_total", "Bytes published to the topic since it was loaded.", topicLabels, nil)
	descOutMsgs      = prometheus.NewDesc("pulsar_out_messages_total", "Messages dispatched from the topic since it was loaded.", topicLabels, nil)
	descOutBytes     = prometheus.NewDesc("pulsar_out_bytes_total", "Bytes dispatched from the topic since it was loaded.", topicLabels, nil)
	descStorageSize  = prometheus.NewDesc("pulsar_storage_size", "Logical size of the topic's ledgers, in bytes.", topicLabels, nil)
	descMsgBacklog   = prometheus.NewDesc("pulsar_msg_backlog", "Unacknowledged entries of all the topic's subscriptions.", topicLabels, nil)
	descProducers    = prometheus.NewDesc("pulsar_producers_count", "Producers connected to the topic.", topicLabels, nil)
	descConsumers    = prometheus.NewDesc("pulsar_consumers_count", "Consumers connected to the topic.", topicLabels, nil)
	descSubs         = prometheus.NewDesc("pulsar_subscriptions_count", "Subscriptions of the topic.", topicLabels, nil)
	descWriteLatency [nLatencyBuckets]*prometheus.Desc
	descWriteCount   = prometheus.NewDesc("pulsar_storage_write_latency_count", "Publishes to the topic in the last interval.", topicLabels, nil)
	descWriteSum     = prometheus.NewDesc("pulsar_storage_write_latency_sum", "Total publish latency of the topic in the last interval, in milliseconds.", topicLabels, nil)
	descSubBacklog   = prometheus.NewDesc("pulsar_subscription_back_log", "Unacknowledged entries of the subscription.", subLabels, nil)
	descSubRateOut   = prometheus.NewDesc("pulsar_subscription_msg_rate_out", "Messages per second dispatched to the subscription's consumers.", subLabels, nil)
	descSubTputOut   = prometheus.NewDesc("pulsar_subscription_msg_throughput_out", "Bytes per second dispatched to the subscription's consumers.", subLabels, nil)
	descSubConsumers = prometheus.NewDesc("pulsar_subscription_consumers_count", "Consumers of the subscription.", subLabels, nil)
	descOffloaded    = prometheus.NewDesc("pulsar_storage_offloaded_size", "Bytes of the topic's ledgers whose offload to tiered storage is complete.", topicLabels, nil)
)

func init() {
	// Built once from constant tables: immutable after init.
	for i := range descWriteLatency {
		suffix := "overflow"
		help := "Publishes to the topic in the last interval that took over 1000 ms."
		if i < len(writeLatencySuffix) {
			suffix = writeLatencySuffix[i]
			help = "Publishes to the topic in the last interval that took at most " +
				formatMs(writeLatencyBoundsMs[i]) + " ms (and more than the next lower bound)."
		}
		descWriteLatency[i] = prometheus.NewDesc("pulsar_storage_write_latency_"+suffix, help, topicLabels, nil)
	}
}

func formatMs(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descTopicsCount, descRateIn, descRateOut, descTputIn, descTputOut,
		descInMsgs, descInBytes, descOutMsgs, descOutBytes, descStorageSize, descMsgBacklog, descProducers,
		descConsumers, descSubs, descWriteCount, descWriteSum, descSubBacklog, descSubRateOut, descSubTputOut,
		descSubConsumers, descOffloaded} {
		ch <- d
	}
	if c.cfg.Offload != nil {
		describeOffload(ch)
	}
	for _, d := range descWriteLatency {
		ch <- d
	}
	c.publishSummary.Describe(ch)
	c.publishHist.Describe(ch)
}

// Collect implements prometheus.Collector: it snapshots the live topics and reports
// them, rolling each rate window that is at least MinInterval old.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	snaps := c.cfg.Source.Snapshot() // takes topic and cursor locks: not under c.mu
	out := c.compute(snaps)
	for _, m := range out {
		ch <- m
	}
	c.publishSummary.Collect(ch)
	c.publishHist.Collect(ch)
}

func (c *Collector) compute(snaps []TopicSnapshot) []prometheus.Metric {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now()
	cluster := c.cfg.Cluster
	var out []prometheus.Metric
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		out = append(out, prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...))
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		out = append(out, prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...))
	}
	seen := make(map[any]bool, len(snaps))
	perNamespace := map[string]int{}
	for _, ts := range snaps {
		seen[ts.Key] = true
		perNamespace[ts.Namespace]++
		cur := counters{msgsIn: ts.MsgsIn, bytesIn: ts.BytesIn, msgsOut: ts.MsgsOut, bytesOut: ts.BytesOut}
		if l, ok := c.latency.Load(ts.Key); ok {
			lc := l.(*latencyCounts)
			for i := range cur.lat {
				cur.lat[i] = lc.buckets[i].Load()
			}
			cur.latSumUs = lc.sumUs.Load()
		}
		w := c.windowLocked(ts.Key)
		w.roll(cur, now, c.cfg.MinInterval)

		lv := []string{cluster, ts.Namespace, ts.Topic}
		gauge(descRateIn, w.rateIn, lv...)
		gauge(descRateOut, w.rateOut, lv...)
		gauge(descTputIn, w.tputIn, lv...)
		gauge(descTputOut, w.tputOut, lv...)
		counter(descInMsgs, float64(ts.MsgsIn), lv...)
		counter(descInBytes, float64(ts.BytesIn), lv...)
		counter(descOutMsgs, float64(ts.MsgsOut), lv...)
		counter(descOutBytes, float64(ts.BytesOut), lv...)
		gauge(descStorageSize, float64(ts.StorageSize), lv...)
		gauge(descOffloaded, float64(ts.OffloadedSize), lv...)
		gauge(descProducers, float64(ts.Producers), lv...)
		gauge(descConsumers, float64(ts.Consumers), lv...)
		gauge(descSubs, float64(len(ts.Subscriptions)), lv...)
		var n int64
		for i, d := range descWriteLatency {
			gauge(d, float64(w.latDelta[i]), lv...)
			n += w.latDelta[i]
		}
		gauge(descWriteCount, float64(n), lv...)
		gauge(descWriteSum, float64(w.latSumDeltaUs)/1000, lv...)

		var backlog int64
		for _, ss := range ts.Subscriptions {
			seen[ss.Key] = true
			backlog += ss.Backlog
			sw := c.windowLocked(ss.Key)
			sw.roll(counters{msgsOut: ss.MsgsOut, bytesOut: ss.BytesOut}, now, c.cfg.MinInterval)
			sv := []string{cluster, ts.Namespace, ts.Topic, ss.Name}
			gauge(descSubBacklog, float64(ss.Backlog), sv...)
			gauge(descSubRateOut, sw.rateOut, sv...)
			gauge(descSubTputOut, sw.tputOut, sv...)
			gauge(descSubConsumers, float64(ss.Consumers), sv...)
		}
		gauge(descMsgBacklog, float64(backlog), lv...)
	}
	for ns, n := range perNamespace {
		gauge(descTopicsCount, float64(n), cluster, ns)
	}
	if c.cfg.Offload != nil {
		seen[offloadKey{}] = true
		out = c.offloadLocked(out, c.cfg.Offload(), now)
	}
	for k := range c.windows {
		if !seen[k] {
			delete(c.windows, k)
		}
	}
	c.lastScrape = now
	return out
}

// windowLocked returns key's window, creating it for a key first seen now: it was not
// loaded at the last scrape, so its counts are taken to have been zero then.
func (c *Collector) windowLocked(key any) *window {
	w, ok := c.windows[key]
	if !ok {
		w = &window{at: c.lastScrape}
		c.windows[key] = w
	}
	return w
}
