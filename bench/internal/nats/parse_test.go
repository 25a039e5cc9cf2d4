package nats

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

// The testdata files are the real output of nats bench (natscli v0.3.0) against
// nats-server v2.15.2 on the benchmark machine, with sync_interval: always.
func TestParseBench(t *testing.T) {
	for _, tc := range []struct {
		file    string
		want    BenchResult
		msgs    string // Params["msgs"]
		bytesPS float64
	}{
		{"pub-sync.txt", BenchResult{Kind: "JetStream synchronous publisher", MsgsPerSec: 2579, Clients: 1, AvgUsPerMsg: 387.60}, "5,000", 2.5 * (1 << 20)},
		{"pub-async.txt", BenchResult{Kind: "JetStream asynchronous publisher", MsgsPerSec: 5122, Clients: 1, AvgUsPerMsg: 195.21}, "20,000", 5.0 * (1 << 20)},
		{"pub-batch.txt", BenchResult{Kind: "JetStream batched publisher", MsgsPerSec: 17667, Clients: 1, AvgUsPerMsg: 56.60}, "50,000", 17 * (1 << 20)},
		{"pub-async-4clients.txt", BenchResult{Kind: "JetStream asynchronous publisher", MsgsPerSec: 4930, Clients: 4,
			AvgUsPerMsg: (751.45 + 773.74 + 810.10 + 811.30) / 4}, "20,000", 4.8 * (1 << 20)},
		{"consume.txt", BenchResult{Kind: "JetStream durable consumer (callback)", MsgsPerSec: 121321, Clients: 1, AvgUsPerMsg: 8.24}, "200,000", 118 * (1 << 20)},
	} {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseBench(string(b))
			if err != nil {
				t.Fatal(err)
			}
			if got.Kind != tc.want.Kind || got.MsgsPerSec != tc.want.MsgsPerSec || got.Clients != tc.want.Clients ||
				math.Abs(got.AvgUsPerMsg-tc.want.AvgUsPerMsg) > 1e-9 || math.Abs(got.BytesPerSec-tc.bytesPS) > 1 {
				t.Errorf("ParseBench = %+v\nwant %+v (bytes/s %.0f)", got, tc.want, tc.bytesPS)
			}
			if got.Params["msgs"] != tc.msgs || got.Params["msg-size"] != "1.0 KiB" {
				t.Errorf("params = %v; want msgs=%s, msg-size=1.0 KiB", got.Params, tc.msgs)
			}
		})
	}
}

func TestParseBenchErrors(t *testing.T) {
	for _, out := range []string{
		"",
		"nats: error: publishing: nats: no responders available for request\n",
		"NATS JetStream synchronous publisher stats: lots msgs/sec ~ 2.5 MiB/sec ~ 1us\n",
		"NATS JetStream synchronous publisher stats: 2,579 msgs/sec ~ 2.5 XB/sec ~ 1us\n",
	} {
		if r, err := ParseBench(out); err == nil {
			t.Errorf("ParseBench(%q) = %+v, want an error", out, r)
		}
	}
}

func TestParseParams(t *testing.T) {
	got := parseParams("batch=500, clients=1, max-bytes=1,073,741,824, msg-size=1.0 KiB, subject=benchsubj")
	want := map[string]string{"batch": "500", "clients": "1", "max-bytes": "1,073,741,824", "msg-size": "1.0 KiB", "subject": "benchsubj"}
	if len(got) != len(want) {
		t.Fatalf("parseParams = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("parseParams[%s] = %q, want %q", k, got[k], v)
		}
	}
}

func TestConfigText(t *testing.T) {
	got := configText("127.0.0.1:4222", "127.0.0.1:8222", "/d/store", true)
	want := "listen: \"127.0.0.1:4222\"\nhttp: \"127.0.0.1:8222\"\njetstream {\n  store_dir: \"/d/store\"\n  sync_interval: always\n}\n"
	if got != want {
		t.Errorf("configText =\n%s\nwant\n%s", got, want)
	}
}
