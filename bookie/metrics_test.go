package bookie

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetrics(t *testing.T) {
	md := etcd(t)
	cfg := baseConfig(t, md)
	cfg.HTTPAddr = "127.0.0.1:0"
	reg := prometheus.NewPedanticRegistry()
	cfg.Metrics = reg
	b := startBookie(t, cfg)
	c := client(t, b.Addr())
	for i, p := range []string{"hello", "world!"} {
		if got := add(t, c, 7, int64(i), p); got != "" {
			t.Fatal(got)
		}
	}
	if got := add(t, c, 8, 0, "x"); got != "" {
		t.Fatal(got)
	}

	want := `
# HELP bookie_SERVER_STATUS 1 while the bookie accepts writes, 0 while it is read-only.
# TYPE bookie_SERVER_STATUS gauge
bookie_SERVER_STATUS 1
# HELP bookie_WRITE_BYTES Payload bytes of the entries added successfully.
# TYPE bookie_WRITE_BYTES counter
bookie_WRITE_BYTES 12
# HELP bookie_disk_usage_ratio Used fraction (0..1) of the file system holding the data dir, at the last check.
# TYPE bookie_disk_usage_ratio gauge
bookie_disk_usage_ratio 0.5
# HELP bookie_entries_added_total Entries written to the store since the bookie started.
# TYPE bookie_entries_added_total counter
bookie_entries_added_total 3
# HELP bookie_ledgers_count Ledgers stored on this bookie.
# TYPE bookie_ledgers_count gauge
bookie_ledgers_count 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "bookie_SERVER_STATUS", "bookie_WRITE_BYTES",
		"bookie_disk_usage_ratio", "bookie_entries_added_total", "bookie_ledgers_count"); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]uint64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case m.Histogram != nil:
				counts[key] = m.GetHistogram().GetSampleCount()
			case m.Summary != nil:
				counts[key] = m.GetSummary().GetSampleCount()
			}
		}
	}
	for _, k := range []string{"bookie_add_entry_latency_seconds,success=true", "bookkeeper_server_ADD_ENTRY,success=true"} {
		if counts[k] != 3 {
			t.Errorf("%s count = %d, want 3 (all: %v)", k, counts[k], counts)
		}
	}

	// The HTTP port serves the same registry.
	resp, err := http.Get("http://" + b.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "\nbookie_ledgers_count 2\n") ||
		!strings.Contains(string(body), `bookkeeper_server_ADD_ENTRY_count{success="true"} 3`) {
		t.Fatalf("/metrics: %d\n%s", resp.StatusCode, body)
	}

	// Closing unregisters: the registry can take a new bookie.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg, "bookie_SERVER_STATUS"); err != nil || n != 0 {
		t.Fatalf("after Close: %d bookie_SERVER_STATUS series (%v)", n, err)
	}
}

func TestMetricsReadOnly(t *testing.T) {
	cfg := baseConfig(t, etcd(t))
	cfg.ForceReadOnly = true
	reg := prometheus.NewPedanticRegistry()
	cfg.Metrics = reg
	startBookie(t, cfg)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP bookie_SERVER_STATUS 1 while the bookie accepts writes, 0 while it is read-only.
# TYPE bookie_SERVER_STATUS gauge
bookie_SERVER_STATUS 0
# HELP bookie_ledger_writable_dirs Data directories the bookie can write to (1, or 0 when read-only).
# TYPE bookie_ledger_writable_dirs gauge
bookie_ledger_writable_dirs 0
`), "bookie_SERVER_STATUS", "bookie_ledger_writable_dirs"); err != nil {
		t.Fatal(err)
	}
}

func TestNoMetricsRouteWithoutRegistry(t *testing.T) {
	cfg := baseConfig(t, etcd(t))
	cfg.HTTPAddr = "127.0.0.1:0"
	b := startBookie(t, cfg)
	resp, err := http.Get("http://" + b.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/metrics without Config.Metrics: %d, want 404", resp.StatusCode)
	}
}
