package service

import (
	"math"
	"testing"
	"time"
)

func TestRateWindow(t *testing.T) {
	var w rateWindow
	t0 := time.Unix(1000, 0)
	if m, b := w.rates(t0, 10, 100); m != 0 || b != 0 {
		t.Fatalf("rates before any sample = %v, %v; want 0", m, b)
	}
	// 10 msgs/s, 1000 B/s, sampled every second.
	for i := 0; i <= 8; i++ {
		w.sample(t0.Add(time.Duration(i)*time.Second), int64(10*i), int64(1000*i))
	}
	now := t0.Add(8500 * time.Millisecond)
	m, b := w.rates(now, 85, 8500)
	if math.Abs(m-10) > 1e-9 || math.Abs(b-1000) > 1e-9 {
		t.Fatalf("rates = %v msg/s, %v B/s; want 10, 1000", m, b)
	}
	if len(w.samples) != rateSamples {
		t.Fatalf("kept %d samples, want %d", len(w.samples), rateSamples)
	}
	// Idle: once the window holds only idle samples the rate is 0.
	for i := 9; i <= 9+rateSamples; i++ {
		w.sample(t0.Add(time.Duration(i)*time.Second), 85, 8500)
	}
	if m, _ := w.rates(t0.Add(15*time.Second), 85, 8500); m != 0 {
		t.Fatalf("idle rate = %v, want 0", m)
	}
}
