package limits

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

// Latency is a distribution's summary in milliseconds.
type Latency struct {
	Count  int     `json:"count"`
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
	P999Ms float64 `json:"p99_9_ms"`
	MaxMs  float64 `json:"max_ms"`
}

// summarize sorts d in place and returns its percentiles (nearest rank).
func summarize(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	slices.Sort(d)
	at := func(p float64) float64 {
		i := int(p/100*float64(len(d))+0.5) - 1
		i = max(0, min(len(d)-1, i))
		return float64(d[i]) / float64(time.Millisecond)
	}
	return Latency{Count: len(d), P50Ms: at(50), P99Ms: at(99), P999Ms: at(99.9), MaxMs: at(100)}
}

// SyncResult is one synced-write measurement.
type SyncResult struct {
	WriteBytes int     `json:"write_bytes"` // bytes written before each fdatasync
	Seconds    float64 `json:"seconds"`
	SyncsPerS  float64 `json:"syncs_per_sec"`
	MBPerS     float64 `json:"mb_per_sec"` // 10^6 bytes
	// Latency of one write + fdatasync.
	Latency Latency `json:"latency"`
}

// SyncedWrites appends writeBytes of random-looking data to a new file in dir and
// fdatasyncs it, over and over, for d. The file is removed afterwards.
func SyncedWrites(dir string, writeBytes int, d time.Duration) (SyncResult, error) {
	f, err := os.CreateTemp(dir, "disklimit-*")
	if err != nil {
		return SyncResult{}, fmt.Errorf("limits: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, writeBytes)
	for i := range buf {
		buf[i] = byte(i*131 + i>>8) // not all zeros; nothing here compresses anyway
	}
	fd := int(f.Fd())
	lat := make([]time.Duration, 0, 1<<16)
	start := time.Now()
	end := start.Add(d)
	var written int64
	for {
		t0 := time.Now()
		if !t0.Before(end) {
			break
		}
		if _, err := f.Write(buf); err != nil {
			return SyncResult{}, fmt.Errorf("limits: write %s: %w", f.Name(), err)
		}
		if err := syscall.Fdatasync(fd); err != nil {
			return SyncResult{}, fmt.Errorf("limits: fdatasync %s: %w", f.Name(), err)
		}
		lat = append(lat, time.Since(t0))
		written += int64(writeBytes)
	}
	secs := time.Since(start).Seconds()
	return SyncResult{
		WriteBytes: writeBytes,
		Seconds:    secs,
		SyncsPerS:  float64(len(lat)) / secs,
		MBPerS:     float64(written) / 1e6 / secs,
		Latency:    summarize(lat),
	}, nil
}

// Filesystem describes where dir lives: the mount's device, type and mount point, from
// /proc/self/mounts (the longest mount point that is a prefix of dir).
func Filesystem(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "unknown"
	}
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return "unknown"
	}
	return mountOf(string(b), abs)
}
