package broker

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-io/strata/bookie/bookietest"
	"github.com/strata-io/strata/internal/testenv"
)

// TestStartServeClose assembles a whole broker on a real embedded etcd and a real
// bookie, checks that both of its listeners answer and that it registered itself, and
// that Close stops every goroutine it started (goleak, in TestMain).
func TestStartServeClose(t *testing.T) {
	ctx := testenv.Context(t, time.Minute)
	c := bookietest.Start(t, "/brokertest", 1)
	reg := prometheus.NewRegistry()
	b, err := Start(ctx, Config{Store: c.Store, ListenAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		LeaseTTL: 5 * time.Second, Metrics: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())

	// The Pulsar port accepts connections.
	conn, err := net.DialTimeout("tcp", b.Addr(), 5*time.Second)
	if err != nil {
		t.Fatalf("dial the Pulsar port: %v", err)
	}
	conn.Close()

	get := func(path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+b.HTTPAddr()+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get("/admin/v2/brokers/health"); code != http.StatusOK || body != "ok" {
		t.Fatalf("health: %d %q", code, body)
	}
	// The broker bootstrapped public/default and lists itself as live.
	if code, body := get("/admin/v2/namespaces/public"); code != http.StatusOK || !strings.Contains(body, "public/default") {
		t.Fatalf("namespaces of public: %d %q", code, body)
	}
	if code, body := get("/admin/v2/brokers/standalone"); code != http.StatusOK || !strings.Contains(body, b.HTTPAddr()) {
		t.Fatalf("live brokers: %d %q (want %s listed)", code, body, b.HTTPAddr())
	}
	// Metrics are served from the registry it was given.
	if code, body := get("/metrics"); code != http.StatusOK || !strings.Contains(body, "pulsar_") {
		t.Fatalf("metrics: %d, %d bytes, no pulsar_ series", code, len(body))
	}
}

func TestConfigValidate(t *testing.T) {
	if _, err := Start(context.Background(), Config{}); err == nil || !strings.Contains(err.Error(), "metadata store") {
		t.Fatalf("Start without a store: %v, want a refusal naming the metadata store", err)
	}
}
