package perf

import (
	"bytes"
	"testing"
	"time"
)

func TestStampRoundTrip(t *testing.T) {
	p := newPayloadPool(1024)
	at := time.Unix(1_795_000_000, 123_456_789)
	a, b := make([]byte, 1024), make([]byte, 1024)
	p.fill(a, 1, at)
	p.fill(b, 2, at)
	if got, ok := readStamp(a); !ok || !got.Equal(at) {
		t.Fatalf("readStamp = %v, %v; want %v", got, ok, at)
	}
	if bytes.Equal(a[StampSize:], b[StampSize:]) {
		t.Error("consecutive payloads have the same filler")
	}
	if _, ok := readStamp(a[:StampSize-1]); ok {
		t.Error("short payload read as stamped")
	}
	if _, ok := readStamp(make([]byte, 64)); ok {
		t.Error("zero payload read as stamped")
	}
	short := make([]byte, 8)
	newPayloadPool(8).fill(short, 1, at) // must not panic, carries no stamp
	if _, ok := readStamp(short); ok {
		t.Error("8-byte payload read as stamped")
	}
}
