package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

type waitResult struct {
	st  LedgerState
	err error
}

func waitAsync(ctx context.Context, s *Store, ledger uint64, after int64) <-chan waitResult {
	ch := make(chan waitResult, 1)
	go func() {
		st, err := s.WaitLAC(ctx, ledger, after)
		ch <- waitResult{st, err}
	}()
	return ch
}

func getWait(t *testing.T, ch <-chan waitResult) waitResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(failsafe):
		t.Fatal("long poll did not return")
		return waitResult{}
	}
}

// parkings reports every long poll that parks on s.
func parkings(s *Store) <-chan uint64 {
	ch := make(chan uint64, 1024)
	s.mu.Lock()
	s.onPark = func(ledger uint64) { ch <- ledger }
	s.mu.Unlock()
	return ch
}

// parked waits until n more long polls have parked on ledger.
func parked(t *testing.T, parks <-chan uint64, ledger uint64, n int) {
	t.Helper()
	for n > 0 {
		select {
		case l := <-parks:
			if l == ledger {
				n--
			}
		case <-time.After(failsafe):
			t.Fatalf("long polls did not park on ledger %d", ledger)
		}
	}
}

func TestWaitLAC(t *testing.T) {
	s, _ := openMem(t)
	ctx := testCtx(t)
	parks := parkings(s)
	mustAdd(t, s, mkAdd(1, 0, -1, "a"))
	mustAdd(t, s, mkAdd(1, 1, 0, "b"))

	t.Run("already past", func(t *testing.T) {
		r := getWait(t, waitAsync(ctx, s, 1, -1))
		if r.err != nil || r.st.LAC != 0 {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("woken by an add", func(t *testing.T) {
		ch := waitAsync(ctx, s, 1, 0)
		parked(t, parks, 1, 1)
		mustAdd(t, s, mkAdd(1, 2, 0, "c")) // changes the ledger but not the LAC: keep waiting
		mustAdd(t, s, mkAdd(1, 3, 1, "d"))
		r := getWait(t, ch)
		if r.err != nil || r.st.LAC != 1 || r.st.LastEntry != 3 {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("woken by an explicit LAC", func(t *testing.T) {
		ch := waitAsync(ctx, s, 1, 1)
		parked(t, parks, 1, 1)
		if err := s.UpdateLAC(1, 3); err != nil {
			t.Fatal(err)
		}
		if r := getWait(t, ch); r.err != nil || r.st.LAC != 3 {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("woken by a fence", func(t *testing.T) {
		ch := waitAsync(ctx, s, 1, 100)
		parked(t, parks, 1, 1)
		if _, err := s.Fence(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if r := getWait(t, ch); r.err != nil || !r.st.Fenced {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("unknown ledger, first add", func(t *testing.T) {
		ch := waitAsync(ctx, s, 2, -1)
		parked(t, parks, 2, 1)
		mustAdd(t, s, mkAdd(2, 0, -1, "x")) // LAC still -1
		mustAdd(t, s, mkAdd(2, 1, 0, "y"))
		if r := getWait(t, ch); r.err != nil || r.st.LAC != 0 {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		tctx, cancel := context.WithCancel(ctx)
		ch := waitAsync(tctx, s, 2, 5)
		ch2 := waitAsync(tctx, s, 2, 5)
		parked(t, parks, 2, 2)
		cancel()
		for _, c := range []<-chan waitResult{ch, ch2} {
			if r := getWait(t, c); !errors.Is(r.err, context.Canceled) || r.st.LAC != 0 {
				t.Fatalf("%+v", r)
			}
		}
		s.mu.Lock()
		left := len(s.waiters)
		s.mu.Unlock()
		if left != 0 {
			t.Fatalf("%d waiter entries left after every long poll gave up", left)
		}
	})
}

func TestWaitLACEndsOnClose(t *testing.T) {
	s, err := Open("db", Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	parks := parkings(s)
	ch := waitAsync(testCtx(t), s, 1, 0)
	parked(t, parks, 1, 1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if r := getWait(t, ch); !errors.Is(r.err, ErrClosed) {
		t.Fatalf("%+v", r)
	}
}
