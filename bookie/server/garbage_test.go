package server

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strata-io/strata/internal/testenv"
	bookiev1 "github.com/strata-io/strata/proto/bookie/v1"
)

// TestGarbageDisturbsNothing sends random, mostly malformed requests on one stream and
// a message over the gRPC size limit on another; each bad request gets its own error
// (or kills only its own stream), and a good stream keeps working throughout.
func TestGarbageDisturbsNothing(t *testing.T) {
	e := start(t, Config{MaxEntrySize: 4096})
	rng := testenv.Rand(t)
	pick := func(vs ...int64) int64 { return vs[rng.IntN(len(vs))] }

	const n = 500
	reqs := make([]*bookiev1.AddRequest, n)
	answered := 0 // lac_only requests get no response
	for k := range reqs {
		payload := make([]byte, rng.IntN(5000))
		for i := range payload {
			payload[i] = byte(rng.Uint32())
		}
		reqs[k] = &bookiev1.AddRequest{
			LedgerId: uint64(pick(0, 1, 2, -1)),
			EntryId:  pick(-1<<63, -1, 0, 1, 1<<62, 1<<63-1),
			Lac:      pick(-1<<63, -2, -1, 0, 1<<63-1),
			Payload:  payload,
			Crc32C:   rng.Uint32(),
			Recovery: rng.IntN(4) == 0,
			LacOnly:  rng.IntN(10) == 0,
		}
		if !reqs[k].LacOnly {
			answered++
		}
	}
	bad := e.adder(t)
	go func() {
		for _, r := range reqs {
			if err := bad.s.Send(r); err != nil {
				return
			}
		}
		bad.s.CloseSend()
	}()

	good := e.adder(t)
	for i := range int64(20) {
		if got := good.do(req(100, i, i-1, "good")); got != "" {
			t.Fatalf("good stream, entry %d: %q", i, got)
		}
	}
	responses := 0
	for r := range bad.rs {
		if r.Error == nil && (r.EntryId < 0 || r.LedgerId == 0) {
			t.Fatalf("garbage accepted: %v", r)
		}
		responses++
	}
	if responses != answered {
		t.Fatalf("%d responses, want %d (stream ended with %v)", responses, answered, bad.err)
	}

	// A message over the gRPC receive limit breaks its own stream only.
	huge := e.adder(t)
	huge.send(req(7, 0, -1, strings.Repeat("h", 4096+recvHeadroom+1)))
	if _, ok := <-huge.rs; ok {
		t.Fatal("a response to a message over the receive limit")
	}
	if status.Code(huge.err) != codes.ResourceExhausted {
		t.Fatalf("oversized message ended the stream with %v", huge.err)
	}
	if got := good.do(req(100, 20, 19, "still good")); got != "" {
		t.Fatalf("good stream after garbage: %q", got)
	}
	other := e.adder(t)
	if got := other.do(req(101, 0, -1, "fresh stream")); got != "" {
		t.Fatalf("fresh stream after garbage: %q", got)
	}
}
