package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/strata-io/strata/e2e/harness"
)

func TestSmokeProduceConsume(t *testing.T) {
	dir := t.TempDir()
	s := harness.StartStandalone(t, dir)
	c := newClient(t, s.PulsarURL)
	ctx := testCtx(t)

	cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: "smoke", SubscriptionName: "s", SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
	prod := newProducer(t, c, pulsar.ProducerOptions{Topic: "smoke"})
	const n = 100
	for i := 0; i < n; i++ {
		if _, err := prod.Send(ctx, &pulsar.ProducerMessage{Payload: []byte(fmt.Sprintf("m-%d", i))}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	for i := 0; i < n; i++ {
		m, err := cons.Receive(ctx)
		if err != nil {
			t.Fatalf("receive %d: %v", i, err)
		}
		if got, want := string(m.Payload()), fmt.Sprintf("m-%d", i); got != want {
			t.Fatalf("message %d: got %q want %q", i, got, want)
		}
		if err := cons.Ack(m); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPprofFlag: --pprof serves Go's profiling endpoints on a listener of its own, and
// nothing of them is on the client-facing HTTP port.
func TestPprofFlag(t *testing.T) {
	addr := harness.FreePort(t)
	s := harness.StartStandalone(t, t.TempDir(), "--pprof", addr)
	resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine profile") {
		t.Fatalf("pprof goroutine profile: %d %.200s", resp.StatusCode, body)
	}
	resp, err = http.Get(s.HTTPURL + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Fatal("profiling endpoints are exposed on the client-facing HTTP port")
	}
}
