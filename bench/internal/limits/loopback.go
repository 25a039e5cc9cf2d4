package limits

import (
	"fmt"
	"io"
	"net"
	"time"
)

// LoopbackResult is one loopback TCP throughput measurement.
type LoopbackResult struct {
	WriteBytes int     `json:"write_bytes"`
	Seconds    float64 `json:"seconds"`
	MBPerS     float64 `json:"mb_per_sec"` // 10^6 bytes received a second
}

// Loopback streams writeBytes-sized writes over one TCP connection on 127.0.0.1 for d
// and returns the rate at which the reader received them.
func Loopback(writeBytes int, d time.Duration) (LoopbackResult, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return LoopbackResult{}, fmt.Errorf("limits: %w", err)
	}
	defer l.Close()
	type result struct {
		n    int64
		secs float64
		err  error
	}
	got := make(chan result, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			got <- result{err: err}
			return
		}
		defer c.Close()
		buf := make([]byte, 256*1024)
		start := time.Now()
		var n int64
		for {
			k, err := c.Read(buf)
			n += int64(k)
			if err == io.EOF {
				break
			}
			if err != nil {
				got <- result{err: err}
				return
			}
		}
		got <- result{n: n, secs: time.Since(start).Seconds()}
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		return LoopbackResult{}, fmt.Errorf("limits: %w", err)
	}
	buf := make([]byte, writeBytes)
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if _, err := c.Write(buf); err != nil {
			c.Close()
			return LoopbackResult{}, fmt.Errorf("limits: loopback write: %w", err)
		}
	}
	c.Close()
	r := <-got
	if r.err != nil {
		return LoopbackResult{}, fmt.Errorf("limits: loopback read: %w", r.err)
	}
	return LoopbackResult{WriteBytes: writeBytes, Seconds: r.secs, MBPerS: float64(r.n) / 1e6 / r.secs}, nil
}
