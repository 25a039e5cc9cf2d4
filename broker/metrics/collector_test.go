package metrics

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeSource serves scripted snapshots; the test changes them between scrapes.
type fakeSource struct {
	mu    sync.Mutex
	snaps []TopicSnapshot
}

func (f *fakeSource) Snapshot() []TopicSnapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]TopicSnapshot(nil), f.snaps...)
}

func (f *fakeSource) set(s ...TopicSnapshot) {
	f.mu.Lock()
	f.snaps = s
	f.mu.Unlock()
}

// clock is an injected clock that only moves when told.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestCollector(src Source) (*Collector, *clock) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	return New(Config{Cluster: "c1", Source: src, Now: clk.now}), clk
}

type topicKey struct{ name string } // stands for a *service.Topic
type subKey struct{ name string }

const (
	ns = "public/default"
	tp = "persistent://public/default/t1"
)

// lbl is the label set of topic t1 as Gather orders it (by name); sub adds a
// subscription label.
func lbl(sub string) string {
	if sub != "" {
		sub = `subscription="` + sub + `",`
	}
	return `{cluster="c1",namespace="public/default",` + sub + `topic="persistent://public/default/t1"}`
}

// scrape returns the value of one series by name and labels, as text exposition does.
func scrape(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var b strings.Builder
			b.WriteString(mf.GetName())
			var parts []string
			for _, lp := range m.GetLabel() {
				parts = append(parts, lp.GetName()+`="`+lp.GetValue()+`"`)
			}
			if len(parts) > 0 {
				b.WriteString("{" + strings.Join(parts, ",") + "}")
			}
			var v float64
			switch {
			case m.Gauge != nil:
				v = m.GetGauge().GetValue()
			case m.Counter != nil:
				v = m.GetCounter().GetValue()
			case m.Summary != nil:
				v = float64(m.GetSummary().GetSampleCount())
			case m.Histogram != nil:
				v = float64(m.GetHistogram().GetSampleCount())
			}
			out[b.String()] = v
		}
	}
	return out
}

func TestTopicGauges(t *testing.T) {
	k := &topicKey{"t1"}
	src := &fakeSource{}
	src.set(TopicSnapshot{Key: k, Namespace: ns, Topic: tp, MsgsIn: 7, BytesIn: 700, MsgsOut: 3, BytesOut: 300,
		StorageSize: 4096, Producers: 2, Consumers: 3, Subscriptions: []SubscriptionSnapshot{
			{Key: &subKey{"a"}, Name: "a", Backlog: 4, Consumers: 1, MsgsOut: 3, BytesOut: 300},
			{Key: &subKey{"b"}, Name: "b", Backlog: 7, Consumers: 2},
		}})
	c, _ := newTestCollector(src)
	got := scrape(t, c)
	want := map[string]float64{
		"pulsar_topics_count" + `{cluster="c1",namespace="public/default"}`: 1,
		"pulsar_in_messages_total" + lbl(""):                                7,
		"pulsar_in_bytes_total" + lbl(""):                                   700,
		"pulsar_out_messages_total" + lbl(""):                               3,
		"pulsar_out_bytes_total" + lbl(""):                                  300,
		"pulsar_storage_size" + lbl(""):                                     4096,
		"pulsar_msg_backlog" + lbl(""):                                      11,
		"pulsar_producers_count" + lbl(""):                                  2,
		"pulsar_consumers_count" + lbl(""):                                  3,
		"pulsar_subscriptions_count" + lbl(""):                              2,
		"pulsar_subscription_back_log" + lbl("a"):                           4,
		"pulsar_subscription_back_log" + lbl("b"):                           7,
		"pulsar_subscription_consumers_count" + lbl("b"):                    2,
		// First scrape: less than MinInterval since the collector started.
		"pulsar_rate_in" + lbl(""):                                 0,
		"pulsar_storage_write_latency_le_0_5" + lbl(""):            0,
		"pulsar_storage_write_latency_overflow" + lbl(""):          0,
		"pulsar_broker_publish_latency" + `{cluster="c1"}`:         0,
		"strata_broker_publish_latency_seconds" + `{cluster="c1"}`: 0,
	}
	for k, v := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("missing %s", k)
			continue
		}
		if g != v {
			t.Errorf("%s = %v, want %v", k, g, v)
		}
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP pulsar_producers_count Producers connected to the topic.
# TYPE pulsar_producers_count gauge
pulsar_producers_count`+lbl("")+` 2
`), "pulsar_producers_count"); err != nil {
		t.Fatal(err)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil {
		t.Fatal(err)
	} else {
		for _, p := range problems {
			// Pulsar's names, kept on purpose: no unit suffixes, _count on gauges.
			t.Logf("lint (accepted, Pulsar's name): %s: %s", p.Metric, p.Text)
		}
	}
}

func TestRates(t *testing.T) {
	k := &topicKey{"t1"}
	sk := &subKey{"s"}
	src := &fakeSource{}
	snap := func(in, inB, out, outB int64) TopicSnapshot {
		return TopicSnapshot{Key: k, Namespace: ns, Topic: tp, MsgsIn: in, BytesIn: inB, MsgsOut: out, BytesOut: outB,
			Subscriptions: []SubscriptionSnapshot{{Key: sk, Name: "s", MsgsOut: out, BytesOut: outB}}}
	}
	c, clk := newTestCollector(src)
	type step struct {
		advance                   time.Duration
		snap                      TopicSnapshot
		rateIn, tputIn, rateOut   float64
		tputOut, subRate, subTput float64
	}
	steps := []step{
		// First seen 10 s after start: counted from zero at start.
		{10 * time.Second, snap(100, 1000, 50, 500), 10, 100, 5, 50, 5, 50},
		// Under MinInterval later: the figures stand, whatever the counters did.
		{500 * time.Millisecond, snap(1000, 10000, 50, 500), 10, 100, 5, 50, 5, 50},
		// 2 s after the last computation.
		{1500 * time.Millisecond, snap(300, 3000, 70, 700), 100, 1000, 10, 100, 10, 100},
		// Nothing moved.
		{4 * time.Second, snap(300, 3000, 70, 700), 0, 0, 0, 0, 0, 0},
		// Counters lower than before: reset, counted from zero.
		{2 * time.Second, snap(20, 200, 2, 20), 10, 100, 1, 10, 1, 10},
	}
	for i, s := range steps {
		clk.advance(s.advance)
		src.set(s.snap)
		got := scrape(t, c)
		check := func(name string, want float64) {
			if got[name] != want {
				t.Errorf("step %d: %s = %v, want %v", i, name, got[name], want)
			}
		}
		check("pulsar_rate_in"+lbl(""), s.rateIn)
		check("pulsar_throughput_in"+lbl(""), s.tputIn)
		check("pulsar_rate_out"+lbl(""), s.rateOut)
		check("pulsar_throughput_out"+lbl(""), s.tputOut)
		check("pulsar_subscription_msg_rate_out"+lbl("s"), s.subRate)
		check("pulsar_subscription_msg_throughput_out"+lbl("s"), s.subTput)
	}
}

func TestNewTopicCountsFromLastScrape(t *testing.T) {
	src := &fakeSource{}
	c, clk := newTestCollector(src)
	clk.advance(time.Hour)
	scrape(t, c) // no topics
	clk.advance(4 * time.Second)
	src.set(TopicSnapshot{Key: &topicKey{"t1"}, Namespace: ns, Topic: tp, MsgsIn: 40})
	if got := scrape(t, c)["pulsar_rate_in"+lbl("")]; got != 10 {
		t.Fatalf("rate of a topic first seen = %v, want 40 msgs / 4 s", got)
	}
}

func TestReloadedTopicStartsFresh(t *testing.T) {
	src := &fakeSource{}
	c, clk := newTestCollector(src)
	clk.advance(10 * time.Second)
	src.set(TopicSnapshot{Key: &topicKey{"t1"}, Namespace: ns, Topic: tp, MsgsIn: 1000})
	scrape(t, c)
	// Unloaded and loaded again: a new Key, same name, counters from zero.
	clk.advance(10 * time.Second)
	src.set(TopicSnapshot{Key: &topicKey{"t1"}, Namespace: ns, Topic: tp, MsgsIn: 50})
	if got := scrape(t, c)["pulsar_rate_in"+lbl("")]; got != 5 {
		t.Fatalf("rate after reload = %v, want 50 msgs / 10 s", got)
	}
	c.mu.Lock()
	n := len(c.windows)
	c.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d windows kept, want only the live topic's", n)
	}
}

func TestWriteLatencyBuckets(t *testing.T) {
	k := &topicKey{"t1"}
	src := &fakeSource{}
	src.set(TopicSnapshot{Key: k, Namespace: ns, Topic: tp})
	c, clk := newTestCollector(src)
	c.ObservePublish(k, time.Millisecond, nil) // before the topic was loaded: broker-wide only
	if _, ok := c.latency.Load(k); ok {
		t.Fatal("latency counts created for a topic not loaded")
	}
	c.track(k) // TopicLoaded
	for _, d := range []time.Duration{300 * time.Microsecond, 500 * time.Microsecond, 3 * time.Millisecond,
		150 * time.Millisecond, 2 * time.Second} {
		c.ObservePublish(k, d, nil)
	}
	c.ObservePublish(k, time.Hour, errTest) // failures are not timed
	clk.advance(5 * time.Second)
	got := scrape(t, c)
	want := map[string]float64{
		"le_0_5": 2, "le_1": 0, "le_5": 1, "le_10": 0, "le_200": 1, "le_1000": 0, "overflow": 1,
		"count": 5, "sum": 0.3 + 0.5 + 3 + 150 + 2000,
	}
	for suffix, v := range want {
		name := "pulsar_storage_write_latency_" + suffix + lbl("")
		if diff := got[name] - v; diff > 1e-9 || diff < -1e-9 {
			t.Errorf("%s = %v, want %v", name, got[name], v)
		}
	}
	if got := got["pulsar_broker_publish_latency"+`{cluster="c1"}`]; got != 6 {
		t.Errorf("publish latency summary count = %v, want 6", got)
	}
	if got := got["strata_broker_publish_latency_seconds"+`{cluster="c1"}`]; got != 6 {
		t.Errorf("publish latency histogram count = %v, want 6", got)
	}
	// The next window has had no publishes.
	clk.advance(5 * time.Second)
	if got := scrape(t, c)["pulsar_storage_write_latency_count"+lbl("")]; got != 0 {
		t.Errorf("next window's count = %v, want 0", got)
	}
	// A closing topic loses its latency counts at once, scraped or not, and a publish
	// completing while it closes does not bring them back.
	c.forget(k) // TopicClosing
	c.ObservePublish(k, time.Millisecond, nil)
	if _, ok := c.latency.Load(k); ok {
		t.Error("latency counts of a closed topic kept")
	}
}

var errTest = errString("boom")

type errString string

func (e errString) Error() string { return string(e) }
