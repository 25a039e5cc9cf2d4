package strata

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/strata-io/strata/bench/internal/proc"
)

// Latency is a latency summary of `strata perf --json`, in milliseconds.
type Latency struct {
	Count  uint64  `json:"count"`
	MeanMs float64 `json:"mean_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
	P999Ms float64 `json:"p99_9_ms"`
	MaxMs  float64 `json:"max_ms"`
}

// Throughput is a count and rate of messages and bytes.
type Throughput struct {
	Messages  uint64  `json:"messages"`
	Seconds   float64 `json:"seconds"`
	MsgPerSec float64 `json:"msg_per_sec"`
	MBPerSec  float64 `json:"mb_per_sec"`
}

// ProduceSummary is `strata perf produce --json`.
type ProduceSummary struct {
	Mode           string     `json:"mode"`
	Args           []string   `json:"args"`
	TargetRate     float64    `json:"target_rate"`
	Size           int        `json:"size"`
	Topics         int        `json:"topics"`
	Batching       bool       `json:"batching"`
	Sent           uint64     `json:"sent"`
	Acked          Throughput `json:"acked"`
	Errors         uint64     `json:"errors"`
	FirstError     string     `json:"first_error"`
	Unacked        uint64     `json:"unacked"`
	RateDropped    int64      `json:"rate_dropped"`
	PublishLatency Latency    `json:"publish_latency"`
}

// ConsumeSummary is `strata perf consume --json`.
type ConsumeSummary struct {
	Mode          string     `json:"mode"`
	Args          []string   `json:"args"`
	Received      Throughput `json:"received"`
	StopReason    string     `json:"stop_reason"`
	LatencySource string     `json:"latency_source"`
	E2ELatency    Latency    `json:"e2e_latency"`
}

// E2ESummary is `strata perf e2e --json`.
type E2ESummary struct {
	Mode                 string         `json:"mode"`
	Args                 []string       `json:"args"`
	Produce              ProduceSummary `json:"produce"`
	Consume              ConsumeSummary `json:"consume"`
	E2EMinusPublishP99Ms float64        `json:"e2e_minus_publish_p99_ms"`
}

// IdleSummary is `strata perf idle --json`.
type IdleSummary struct {
	Mode          string   `json:"mode"`
	Args          []string `json:"args"`
	Topics        int      `json:"topics"`
	Subscribed    uint64   `json:"subscribed"`
	CreateSeconds float64  `json:"create_seconds"`
	PerSec        float64  `json:"subscriptions_per_sec"`
	Errors        uint64   `json:"errors"`
	FirstError    string   `json:"first_error"`
	HeldSeconds   float64  `json:"held_seconds"`
}

// decode unmarshals a --json summary and checks it is of mode.
func decode[T any](b []byte, mode string, modeOf func(*T) string) (T, error) {
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("strata perf --json: %w", err)
	}
	if m := modeOf(&v); m != mode {
		return v, fmt.Errorf("strata perf --json: mode %q, want %q", m, mode)
	}
	return v, nil
}

// DecodeProduce, DecodeConsume, DecodeE2E and DecodeIdle decode --json summaries.
func DecodeProduce(b []byte) (ProduceSummary, error) {
	return decode(b, "produce", func(s *ProduceSummary) string { return s.Mode })
}

func DecodeConsume(b []byte) (ConsumeSummary, error) {
	return decode(b, "consume", func(s *ConsumeSummary) string { return s.Mode })
}

func DecodeE2E(b []byte) (E2ESummary, error) {
	return decode(b, "e2e", func(s *E2ESummary) string { return s.Mode })
}

func DecodeIdle(b []byte) (IdleSummary, error) {
	return decode(b, "idle", func(s *IdleSummary) string { return s.Mode })
}

// Perf runs `strata perf` and `strata admin` against one deployment.
type Perf struct {
	Bin     string
	URL     string // pulsar://
	HTTPURL string // for strata admin
	// Dir receives each run's --json file, NAME.json.
	Dir string
	// Log receives each run's output.
	Log io.Writer
}

func (p *Perf) run(ctx context.Context, name, sub string, args []string) ([]byte, error) {
	jsonPath := filepath.Join(p.Dir, name+".json")
	full := append([]string{"perf", sub, "--url", p.URL, "--json", jsonPath, "--interval", "5s"}, args...)
	fmt.Fprintf(p.Log, "$ strata %s\n", strings.Join(full, " "))
	if err := proc.Run(ctx, proc.Config{Name: "perf " + name, Bin: p.Bin, Args: full, Log: p.Log}); err != nil {
		return nil, err
	}
	return os.ReadFile(jsonPath)
}

// Produce runs `strata perf produce ARGS` and returns its summary.
func (p *Perf) Produce(ctx context.Context, name string, args ...string) (ProduceSummary, error) {
	b, err := p.run(ctx, name, "produce", args)
	if err != nil {
		return ProduceSummary{}, err
	}
	return DecodeProduce(b)
}

// Consume runs `strata perf consume ARGS` and returns its summary.
func (p *Perf) Consume(ctx context.Context, name string, args ...string) (ConsumeSummary, error) {
	b, err := p.run(ctx, name, "consume", args)
	if err != nil {
		return ConsumeSummary{}, err
	}
	return DecodeConsume(b)
}

// E2E runs `strata perf e2e ARGS` and returns its summary.
func (p *Perf) E2E(ctx context.Context, name string, args ...string) (E2ESummary, error) {
	b, err := p.run(ctx, name, "e2e", args)
	if err != nil {
		return E2ESummary{}, err
	}
	return DecodeE2E(b)
}

// Idle runs `strata perf idle ARGS` until its topics and subscriptions exist, calls
// measure while they are held, then stops it and returns its summary.
func (p *Perf) Idle(ctx context.Context, name string, measure func() error, args ...string) (IdleSummary, error) {
	jsonPath := filepath.Join(p.Dir, name+".json")
	full := append([]string{"perf", "idle", "--url", p.URL, "--json", jsonPath, "--interval", "5s"}, args...)
	fmt.Fprintf(p.Log, "$ strata %s\n", strings.Join(full, " "))
	pr, err := proc.Start(ctx, proc.Config{Name: "perf " + name, Bin: p.Bin, Args: full, Log: p.Log,
		Ready: "holding ", ReadyTimeout: 10 * time.Minute})
	if err != nil {
		return IdleSummary{}, err
	}
	merr := measure()
	pr.Signal(syscall.SIGINT)
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := pr.Wait(wctx); err != nil {
		pr.Kill()
		return IdleSummary{}, fmt.Errorf("strata perf idle: %w", err)
	}
	if merr != nil {
		return IdleSummary{}, merr
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		return IdleSummary{}, err
	}
	return DecodeIdle(b)
}

// CreateSubscription creates topic and a durable subscription on it at the earliest
// position, with `strata admin topics create` and `create-subscription`.
func (p *Perf) CreateSubscription(ctx context.Context, topic, sub string) error {
	full := "persistent://public/default/" + topic
	for _, args := range [][]string{
		{"admin", "--admin-url", p.HTTPURL, "topics", "create", full},
		{"admin", "--admin-url", p.HTTPURL, "topics", "create-subscription", full, "-s", sub, "-m", "earliest"},
	} {
		fmt.Fprintf(p.Log, "$ strata %s\n", strings.Join(args, " "))
		if err := proc.Run(ctx, proc.Config{Name: "strata admin", Bin: p.Bin, Args: args, Log: p.Log}); err != nil {
			return err
		}
	}
	return nil
}
