package nats

import (
	"bufio"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// BenchResult is what one `nats bench` run printed.
type BenchResult struct {
	// Kind is the tool's label, e.g. "JetStream synchronous publisher".
	Kind string `json:"kind"`
	// Params are the run's settings from the tool's "Starting ... benchmark [k=v, ...]"
	// line, as printed (e.g. "msgs": "20,000").
	Params map[string]string `json:"params,omitempty"`
	// MsgsPerSec and BytesPerSec are over all clients. The tool prints bytes in IEC units
	// rounded to two or three digits, so BytesPerSec is approximate.
	MsgsPerSec  float64 `json:"msgs_per_sec"`
	BytesPerSec float64 `json:"bytes_per_sec"`
	// Clients is how many clients reported; with one, AvgUsPerMsg is that client's
	// elapsed time over its message count (for a synchronous publisher, the mean round
	// trip), which the tool calls "latency". With several it is the mean over clients.
	Clients     int     `json:"clients"`
	AvgUsPerMsg float64 `json:"avg_us_per_msg"`
}

// ParseBench reads the text output of `nats bench js pub|consume ...` (natscli v0.3.0):
//
//	NATS JetStream synchronous publisher stats: 2,579 msgs/sec ~ 2.5 MiB/sec ~ 387.60us
//
// or, with several clients, an "aggregated stats" line without the latency followed by
// one "[i] ..." line per client.
func ParseBench(out string) (BenchResult, error) {
	var r BenchResult
	var found bool
	var usSum float64
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "Starting "); i >= 0 && strings.Contains(line, " benchmark [") && strings.HasSuffix(line, "]") {
			r.Params = parseParams(line[strings.Index(line, " benchmark [")+len(" benchmark [") : len(line)-1])
			continue
		}
		if rest, ok := strings.CutPrefix(line, "NATS "); ok && strings.Contains(rest, " stats: ") {
			kind, stats, _ := strings.Cut(rest, " stats: ")
			aggregated := false
			if k, ok := strings.CutSuffix(kind, " aggregated"); ok {
				kind, aggregated = k, true
			}
			msgs, bytes, us, err := parseStats(stats, !aggregated)
			if err != nil {
				return BenchResult{}, fmt.Errorf("nats: %q: %w", line, err)
			}
			r.Kind, r.MsgsPerSec, r.BytesPerSec, found = kind, msgs, bytes, true
			if !aggregated {
				r.Clients, r.AvgUsPerMsg = 1, us
			}
			continue
		}
		// A client's line under the aggregated stats: "[1] 1,330 msgs/sec ~ 1.3 MiB/sec ~ 751.45us (5,000 msgs)".
		if found && strings.HasPrefix(line, "[") {
			_, rest, ok := strings.Cut(line, "] ")
			if !ok {
				continue
			}
			rest, _, _ = strings.Cut(rest, " (")
			_, _, us, err := parseStats(rest, true)
			if err != nil {
				return BenchResult{}, fmt.Errorf("nats: %q: %w", line, err)
			}
			r.Clients++
			usSum += us
		}
	}
	if !found {
		return BenchResult{}, errors.New("nats: no stats line in the bench output")
	}
	if r.Clients > 1 || (r.Clients == 1 && r.AvgUsPerMsg == 0) {
		r.AvgUsPerMsg = usSum / float64(r.Clients)
	}
	return r, nil
}

// parseStats parses "2,579 msgs/sec ~ 2.5 MiB/sec[ ~ 387.60us]".
func parseStats(s string, withLatency bool) (msgs, bytes, us float64, err error) {
	parts := strings.Split(s, " ~ ")
	if len(parts) < 2 || (withLatency && len(parts) < 3) {
		return 0, 0, 0, errors.New("want RATE msgs/sec ~ BYTES/sec ~ LATENCYus")
	}
	n, ok := strings.CutSuffix(parts[0], " msgs/sec")
	if !ok {
		return 0, 0, 0, errors.New("no msgs/sec")
	}
	if msgs, err = strconv.ParseFloat(strings.ReplaceAll(n, ",", ""), 64); err != nil {
		return 0, 0, 0, err
	}
	b, ok := strings.CutSuffix(parts[1], "/sec")
	if !ok {
		return 0, 0, 0, errors.New("no bytes/sec")
	}
	if bytes, err = parseIBytes(b); err != nil {
		return 0, 0, 0, err
	}
	if withLatency {
		l, ok := strings.CutSuffix(parts[2], "us")
		if !ok {
			return 0, 0, 0, errors.New("latency not in us")
		}
		if us, err = strconv.ParseFloat(l, 64); err != nil {
			return 0, 0, 0, err
		}
	}
	return msgs, bytes, us, nil
}

// parseIBytes parses go-humanize's IBytes format: "512 B", "2.5 MiB", "17 GiB".
func parseIBytes(s string) (float64, error) {
	num, unit, ok := strings.Cut(strings.TrimSpace(s), " ")
	if !ok {
		return 0, fmt.Errorf("bytes %q: no unit", s)
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("bytes %q: %w", s, err)
	}
	mult := map[string]float64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("bytes %q: unit %q", s, unit)
	}
	return v * mult, nil
}

// parseParams splits "batch=500, clients=1, max-bytes=1,073,741,824, msg-size=1.0 KiB"
// into keys and values. Values may contain commas (thousands), so a new pair starts only
// at ", key=".
func parseParams(s string) map[string]string {
	m := map[string]string{}
	var key string
	for i, part := range strings.Split(s, ", ") {
		k, v, ok := strings.Cut(part, "=")
		if ok && !strings.Contains(k, " ") {
			key = k
			m[key] = v
		} else if i > 0 && key != "" {
			m[key] += ", " + part
		}
	}
	return m
}
