package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/strata-io/strata/e2e/harness"
)

// scrape is one parsed /metrics page: the value of each sample by name and labels.
type scrape map[string]float64

// series names a sample: name{k="v",...} with the labels in name order.
func series(name string, labels ...string) string {
	if len(labels) == 0 {
		return name
	}
	var parts []string
	for i := 0; i+1 < len(labels); i += 2 {
		parts = append(parts, fmt.Sprintf("%s=%q", labels[i], labels[i+1]))
	}
	sort.Strings(parts)
	return name + "{" + strings.Join(parts, ",") + "}"
}

func getMetrics(t *testing.T, url string) scrape {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	out := scrape{}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName(), l.GetValue())
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out[series(name, labels...)] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[series(name, labels...)] = m.GetGauge().GetValue()
			case dto.MetricType_SUMMARY:
				out[series(name+"_count", labels...)] = float64(m.GetSummary().GetSampleCount())
			case dto.MetricType_HISTOGRAM:
				out[series(name+"_count", labels...)] = float64(m.GetHistogram().GetSampleCount())
			default:
				out[series(name, labels...)] = m.GetUntyped().GetValue()
			}
		}
	}
	return out
}

// waitMetrics scrapes until ok accepts a page, and returns that page.
func waitMetrics(t *testing.T, url string, what string, ok func(scrape) bool) scrape {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		m := getMetrics(t, url)
		if ok(m) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics never showed %s", what)
		}
		<-tick.C
	}
}

// TestMetrics: after a known workload (50 unbatched messages of 100 bytes, 20 of them
// acknowledged), the broker's /metrics shows Pulsar's series with the right values,
// and the standalone bookie's series on the same page.
func TestMetrics(t *testing.T) {
	s := harness.StartStandalone(t, t.TempDir())
	c := newClient(t, s.PulsarURL)
	ctx := testCtx(t)
	topic := uniqueTopic(t)
	const produced, acked, size = 50, 20, 100

	cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "sub",
		SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
	prod := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	payload := bytes.Repeat([]byte("x"), size)
	for range produced {
		if _, err := prod.Send(ctx, &pulsar.ProducerMessage{Payload: payload}); err != nil {
			t.Fatal(err)
		}
	}
	for range acked {
		m, err := cons.Receive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := cons.Ack(m); err != nil {
			t.Fatal(err)
		}
	}

	tl := []string{"cluster", "standalone", "namespace", "public/default", "topic", topic}
	sl := append([]string{"subscription", "sub"}, tl...)
	val := func(m scrape, name string, labels ...string) float64 {
		t.Helper()
		v, ok := m[series(name, labels...)]
		if !ok {
			t.Fatalf("no series %s", series(name, labels...))
		}
		return v
	}
	// Acks reach the broker asynchronously: scrape until the backlog shows them. Rates
	// and latency buckets cover the window between two scrapes at least 1 s apart;
	// nothing scraped while the messages were sent, so the first window to roll holds
	// them all: wait for it too, so that the next window starts after them.
	rolled := false
	m := waitMetrics(t, s.HTTPURL, "the backlog after the acks and a rolled window", func(m scrape) bool {
		if m[series("pulsar_storage_write_latency_count", tl...)] == produced {
			rolled = true
		}
		return rolled && m[series("pulsar_subscription_back_log", sl...)] == produced-acked &&
			m[series("pulsar_out_messages_total", tl...)] == produced
	})
	exact := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"pulsar_in_messages_total", tl, produced},
		{"pulsar_out_messages_total", tl, produced}, // the consumer's queue takes them all
		{"pulsar_msg_backlog", tl, produced - acked},
		{"pulsar_subscription_back_log", sl, produced - acked},
		{"pulsar_producers_count", tl, 1},
		{"pulsar_consumers_count", tl, 1},
		{"pulsar_subscriptions_count", tl, 1},
		{"pulsar_subscription_consumers_count", sl, 1},
		{"pulsar_broker_publish_latency_count", []string{"cluster", "standalone"}, produced},
		{"strata_broker_publish_latency_seconds_count", []string{"cluster", "standalone"}, produced},
		{"pulsar_topics_count", []string{"cluster", "standalone", "namespace", "public/default"}, 1},
		{"bookie_SERVER_STATUS", nil, 1},
		{"bookie_ledger_writable_dirs", nil, 1},
	}
	for _, e := range exact {
		if got := val(m, e.name, e.labels...); got != e.want {
			t.Errorf("%s = %v, want %v", series(e.name, e.labels...), got, e.want)
		}
	}
	inBytes := val(m, "pulsar_in_bytes_total", tl...)
	if inBytes < produced*size || inBytes > produced*(size+200) {
		t.Errorf("pulsar_in_bytes_total = %v, want %d payload bytes plus metadata", inBytes, produced*size)
	}
	if got := val(m, "pulsar_storage_size", tl...); got != inBytes {
		t.Errorf("pulsar_storage_size = %v, want the bytes published, %v", got, inBytes)
	}
	if got := val(m, "pulsar_out_bytes_total", tl...); got != inBytes {
		t.Errorf("pulsar_out_bytes_total = %v, want the bytes published, %v", got, inBytes)
	}

	// A second burst, unscraped while it is sent: the next window to roll holds exactly
	// it (its dispatch may land in a later one).
	const burst = 10
	for range burst {
		if _, err := prod.Send(ctx, &pulsar.ProducerMessage{Payload: payload}); err != nil {
			t.Fatal(err)
		}
	}
	var win scrape
	waitMetrics(t, s.HTTPURL, "a window with the burst and one with dispatch", func(m scrape) bool {
		if win == nil && m[series("pulsar_storage_write_latency_count", tl...)] == burst {
			win = m
		}
		return win != nil && m[series("pulsar_rate_out", tl...)] > 0 && m[series("pulsar_subscription_msg_rate_out", sl...)] > 0
	})
	var buckets float64
	for _, b := range []string{"le_0_5", "le_1", "le_5", "le_10", "le_20", "le_50", "le_100", "le_200", "le_1000", "overflow"} {
		buckets += val(win, "pulsar_storage_write_latency_"+b, tl...)
	}
	if buckets != burst {
		t.Errorf("pulsar_storage_write_latency buckets add up to %v, want %d", buckets, burst)
	}
	if got := val(win, "pulsar_storage_write_latency_sum", tl...); got <= 0 {
		t.Errorf("pulsar_storage_write_latency_sum = %v ms, want > 0", got)
	}
	// At most the burst over the shortest window (1 s).
	if got := val(win, "pulsar_rate_in", tl...); got <= 0 || got > burst {
		t.Errorf("pulsar_rate_in = %v, want in (0, %d]", got, burst)
	}
	if got, max := val(win, "pulsar_throughput_in", tl...), inBytes/produced*burst; got <= 0 || got > max {
		t.Errorf("pulsar_throughput_in = %v, want in (0, %v]", got, max)
	}
	if got := val(win, "pulsar_broker_publish_latency_count", "cluster", "standalone"); got != produced+burst {
		t.Errorf("pulsar_broker_publish_latency_count = %v, want %d", got, produced+burst)
	}

	// The bookie behind the broker: every entry written (plus cursor and other ledgers').
	if got := val(m, "bookie_entries_added_total"); got < produced {
		t.Errorf("bookie_entries_added_total = %v, want at least %d", got, produced)
	}
	if got := val(m, "bookkeeper_server_ADD_ENTRY_count", "success", "true"); got < produced {
		t.Errorf("bookkeeper_server_ADD_ENTRY_count = %v, want at least %d", got, produced)
	}
	if got := val(m, "bookie_ledgers_count"); got < 1 {
		t.Errorf("bookie_ledgers_count = %v, want at least 1", got)
	}
	if got := val(m, "bookie_disk_usage_ratio"); got <= 0 || got > 1 {
		t.Errorf("bookie_disk_usage_ratio = %v, want in (0, 1]", got)
	}

	// Every series the shipped dashboard queries is on the page.
	checkDashboard(t, m)

	// Once the consumer leaves, the counts follow.
	cons.Close()
	waitMetrics(t, s.HTTPURL, "no consumers", func(m scrape) bool {
		return m[series("pulsar_consumers_count", tl...)] == 0
	})
}

// checkDashboard fails for a series that docs/grafana/strata-dashboard.json queries
// and the scrape m does not have.
func checkDashboard(t *testing.T, m scrape) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "docs", "grafana", "strata-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	have := func(name string) bool {
		for k := range m {
			if k == name || strings.HasPrefix(k, name+"{") {
				return true
			}
		}
		return false
	}
	seriesName := regexp.MustCompile(`\b(?:pulsar|bookie|bookkeeper|strata)_[A-Za-z0-9_]+`)
	n := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, name := range seriesName.FindAllString(tg.Expr, -1) {
				n++
				// Histograms are recorded under name_count: their _bucket series come with it.
				if !have(name) && !have(strings.TrimSuffix(name, "_bucket")+"_count") {
					t.Errorf("dashboard panel %q queries %s, which /metrics does not serve", p.Title, name)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("dashboard queries no series")
	}
}
