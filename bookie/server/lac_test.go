package server

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	bookiev1 "github.com/strata-io/strata/proto/bookie/v1"
)

type lacResult struct {
	r   *bookiev1.ReadLACResponse
	err error
}

func (e *env) readLACAsync(ctx context.Context, r *bookiev1.ReadLACRequest) <-chan lacResult {
	ch := make(chan lacResult, 1)
	go func() {
		resp, err := e.cli.ReadLAC(ctx, r)
		ch <- lacResult{resp, err}
	}()
	return ch
}

func getLAC(t *testing.T, ch <-chan lacResult) lacResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(failsafe):
		t.Fatal("ReadLAC did not return")
		return lacResult{}
	}
}

func TestReadLAC(t *testing.T) {
	e := start(t, Config{})
	ctx := testCtx(t)
	a := e.adder(t)

	if _, err := e.cli.ReadLAC(ctx, &bookiev1.ReadLACRequest{LedgerId: 1}); bookiev1.ReasonOf(err) != bookiev1.ReasonNoSuchLedger {
		t.Fatalf("ReadLAC of an unknown ledger: %v", err)
	}
	if _, err := e.cli.ReadLAC(ctx, &bookiev1.ReadLACRequest{}); bookiev1.ReasonOf(err) != bookiev1.ReasonInvalidArgument {
		t.Fatalf("ReadLAC without ledger: %v", err)
	}

	// A long poll on a ledger this bookie has not seen yet waits for it.
	poll := e.readLACAsync(ctx, &bookiev1.ReadLACRequest{LedgerId: 1, LongPollAfterLac: 0, WaitMillis: uint32(failsafe.Milliseconds())})
	for i := int64(0); i < 3; i++ {
		if got := a.do(req(1, i, i-1, "x")); got != "" {
			t.Fatal(got)
		}
	}
	if r := getLAC(t, poll); r.err != nil || r.r.Lac != 1 || r.r.LastEntryId != 2 || r.r.Fenced {
		t.Fatalf("long poll woken by adds: %v %v", r.r, r.err)
	}

	// Plain read.
	r, err := e.cli.ReadLAC(ctx, &bookiev1.ReadLACRequest{LedgerId: 1, LongPollAfterLac: -1, WaitMillis: 1000})
	if err != nil || r.Lac != 1 || r.LastEntryId != 2 {
		t.Fatalf("plain ReadLAC: %v %v", r, err)
	}

	// lac_only moves the LAC without an answer on the stream; a long poll sees it.
	poll = e.readLACAsync(ctx, &bookiev1.ReadLACRequest{LedgerId: 1, LongPollAfterLac: 1, WaitMillis: uint32(failsafe.Milliseconds())})
	a.send(&bookiev1.AddRequest{LedgerId: 1, Lac: 2, LacOnly: true})
	if r := getLAC(t, poll); r.err != nil || r.r.Lac != 2 {
		t.Fatalf("long poll woken by lac_only: %v %v", r.r, r.err)
	}
	// The lac_only request produced no response: the next response is for the next add.
	if got := a.do(req(1, 3, 2, "x")); got != "" {
		t.Fatal(got)
	}

	// Nothing new: the poll ends with TIMEOUT.
	start := time.Now()
	_, err = e.cli.ReadLAC(ctx, &bookiev1.ReadLACRequest{LedgerId: 1, LongPollAfterLac: 2, WaitMillis: 50})
	if bookiev1.ReasonOf(err) != bookiev1.ReasonTimeout || status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("idle long poll: %v", err)
	}
	if waited := time.Since(start); waited < 50*time.Millisecond {
		t.Fatalf("long poll returned after %s, asked to wait 50ms", waited)
	}

	// A fence wakes the poll and reports fenced.
	poll = e.readLACAsync(ctx, &bookiev1.ReadLACRequest{LedgerId: 1, LongPollAfterLac: 10, WaitMillis: uint32(failsafe.Milliseconds())})
	if _, err := e.cli.ReadLAC(ctx, &bookiev1.ReadLACRequest{LedgerId: 1, Fence: true}); err != nil {
		t.Fatal(err)
	}
	if r := getLAC(t, poll); r.err != nil || !r.r.Fenced {
		t.Fatalf("long poll woken by fence: %v %v", r.r, r.err)
	}

	// Shutdown ends long polls.
	poll = e.readLACAsync(ctx, &bookiev1.ReadLACRequest{LedgerId: 2, LongPollAfterLac: 0, WaitMillis: uint32(failsafe.Milliseconds())})
	e.srv.Shutdown()
	if r := getLAC(t, poll); bookiev1.ReasonOf(r.err) != bookiev1.ReasonShuttingDown {
		t.Fatalf("long poll at shutdown: %v", r.err)
	}
	late := e.adder(t)
	if _, ok := <-late.rs; ok || bookiev1.ReasonOf(late.err) != bookiev1.ReasonShuttingDown {
		t.Fatalf("stream opened after shutdown ended with %v", late.err)
	}
	if _, err := e.cli.ReadEntry(ctx, &bookiev1.ReadEntryRequest{LedgerId: 1, EntryId: 0}); err != nil {
		t.Fatalf("reads are served during shutdown: %v", err)
	}
}

// TestShutdownEndsStreams checks that Shutdown ends open AddEntries streams (after
// answering what is in flight), so a graceful stop does not wait for idle clients.
func TestShutdownEndsStreams(t *testing.T) {
	e := start(t, Config{})
	a := e.adder(t)
	idle := e.adder(t)
	if got := a.do(req(1, 0, -1, "x")); got != "" {
		t.Fatal(got)
	}
	idle.send(&bookiev1.AddRequest{LedgerId: 1, Lac: 0, LacOnly: true})
	e.srv.Shutdown()
	for _, s := range []*adder{a, idle} {
		if _, ok := <-s.rs; ok {
			t.Fatal("response after shutdown")
		}
		if bookiev1.ReasonOf(s.err) != bookiev1.ReasonShuttingDown {
			t.Fatalf("stream ended with %v", s.err)
		}
	}
	stopped := make(chan struct{})
	go func() { e.g.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(failsafe):
		t.Fatal("graceful stop waits for something after Shutdown")
	}
}
