package strata

import (
	"os"
	"path/filepath"
	"testing"
)

// The testdata files are the --json summaries of real `strata perf` runs made by the
// benchmark (a BENCH_QUICK run against a standalone).
func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeProduce(t *testing.T) {
	s, err := DecodeProduce(read(t, "produce.json"))
	if err != nil {
		t.Fatal(err)
	}
	if s.TargetRate != 0 || s.Size != 1024 || s.Topics != 1 || !s.Batching || s.Sent != 162917 ||
		s.Acked.Messages != 162917 || s.Acked.MsgPerSec != 53992.708585909604 || s.Acked.MBPerSec != 55.28853359197144 ||
		s.Errors != 0 || s.Unacked != 0 || s.RateDropped != 0 {
		t.Errorf("produce summary = %+v", s)
	}
	if l := s.PublishLatency; l.Count != 162917 || l.P50Ms != 14.745599 || l.P99Ms != 52.953087 || l.P999Ms != 78.118911 || l.MaxMs != 87.125104 {
		t.Errorf("publish latency = %+v", l)
	}

	s, err = DecodeProduce(read(t, "produce-topics.json"))
	if err != nil {
		t.Fatal(err)
	}
	if s.TargetRate != 2000 || s.Topics != 200 || s.Batching || s.Acked.Messages != 5999 || s.PublishLatency.P99Ms != 23.855103 {
		t.Errorf("many-topics produce summary = %+v", s)
	}
}

func TestDecodeConsume(t *testing.T) {
	s, err := DecodeConsume(read(t, "consume.json"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Received.Messages != 100000 || s.Received.Seconds != 1.226539957 || s.Received.MsgPerSec != 81530.16086372799 ||
		s.StopReason != "messages" || s.LatencySource != "payload stamp (ns)" || s.E2ELatency.P99Ms != 4211.081215 {
		t.Errorf("consume summary = %+v", s)
	}
}

func TestDecodeE2E(t *testing.T) {
	s, err := DecodeE2E(read(t, "e2e.json"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Produce.PublishLatency.P99Ms != 51.380223 || s.Consume.E2ELatency.P50Ms != 2.670591 ||
		s.Consume.E2ELatency.P99Ms != 51.642367 || s.Consume.E2ELatency.P999Ms != 58.195967 ||
		s.Consume.Received.Messages != 28743 || s.E2EMinusPublishP99Ms != 0.26214399999999927 {
		t.Errorf("e2e summary = %+v", s)
	}
}

func TestDecodeIdle(t *testing.T) {
	s, err := DecodeIdle(read(t, "idle.json"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Topics != 1000 || s.Subscribed != 1000 || s.Errors != 0 || s.CreateSeconds != 2.805514521 ||
		s.PerSec != 356.440856931854 || s.HeldSeconds != 2.001044279 {
		t.Errorf("idle summary = %+v", s)
	}
}

func TestDecodeWrongMode(t *testing.T) {
	if _, err := DecodeProduce(read(t, "consume.json")); err == nil {
		t.Error("a consume summary decoded as produce")
	}
	if _, err := DecodeE2E([]byte("{not json")); err == nil {
		t.Error("bad JSON decoded")
	}
}
