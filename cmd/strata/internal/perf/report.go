package perf

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

// Latency is a histogram's summary in milliseconds, as it appears in --json output.
type Latency struct {
	Count  uint64  `json:"count"`
	MinMs  float64 `json:"min_ms"`
	MeanMs float64 `json:"mean_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P95Ms  float64 `json:"p95_ms"`
	P99Ms  float64 `json:"p99_ms"`
	P999Ms float64 `json:"p99_9_ms"`
	MaxMs  float64 `json:"max_ms"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func summarize(h *Histogram) Latency {
	return Latency{
		Count:  h.Count(),
		MinMs:  ms(h.Min()),
		MeanMs: ms(h.Mean()),
		P50Ms:  ms(h.Percentile(50)),
		P95Ms:  ms(h.Percentile(95)),
		P99Ms:  ms(h.Percentile(99)),
		P999Ms: ms(h.Percentile(99.9)),
		MaxMs:  ms(h.Max()),
	}
}

// String prints the percentiles on one line.
func (l Latency) String() string {
	if l.Count == 0 {
		return "-"
	}
	return fmt.Sprintf("p50 %s p95 %s p99 %s p99.9 %s max %s ms",
		fmtMs(l.P50Ms), fmtMs(l.P95Ms), fmtMs(l.P99Ms), fmtMs(l.P999Ms), fmtMs(l.MaxMs))
}

// fmtMs prints three significant digits, enough for a 0.8%-precise histogram.
func fmtMs(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// Throughput is a count of messages and bytes over a span, as rates. MB is 10^6 bytes of
// payload (batch and protocol overhead not counted).
type Throughput struct {
	Messages  uint64  `json:"messages"`
	Bytes     uint64  `json:"bytes"`
	Seconds   float64 `json:"seconds"`
	MsgPerSec float64 `json:"msg_per_sec"`
	MBPerSec  float64 `json:"mb_per_sec"`
}

func throughput(msgs, bytes uint64, span time.Duration) Throughput {
	t := Throughput{Messages: msgs, Bytes: bytes, Seconds: span.Seconds()}
	if span > 0 {
		t.MsgPerSec = float64(msgs) / span.Seconds()
		t.MBPerSec = float64(bytes) / 1e6 / span.Seconds()
	}
	return t
}

func (t Throughput) String() string {
	return fmt.Sprintf("%8.0f msg/s %7.2f MB/s", t.MsgPerSec, t.MBPerSec)
}

// WriteJSON writes v to path, indented; "-" is standard output.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = os.Stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// progressPrefix is the "[  5s]" (or "[  5s warmup]") start of a progress line.
func progressPrefix(w io.Writer, elapsed time.Duration, warmup bool) {
	tag := ""
	if warmup {
		tag = " warmup"
	}
	fmt.Fprintf(w, "[%4.0fs%s] ", elapsed.Seconds(), tag)
}
