package grpcbuf

import "testing"

func TestPool(t *testing.T) {
	p := New()
	for _, tc := range []struct {
		n, cap int
	}{
		{0, 256}, {1, 256}, {256, 256}, {257, 512}, {40 << 10, 64 << 10},
		{1 << 20, 1 << 20}, {4<<20 + 1, 8 << 20}, {8 << 20, 8 << 20},
		{8<<20 + 1, 8<<20 + 1}, // above every class: allocated to size, not pooled
	} {
		b := p.Get(tc.n)
		if len(*b) != tc.n || cap(*b) != tc.cap {
			t.Fatalf("Get(%d): len %d cap %d, want cap %d", tc.n, len(*b), cap(*b), tc.cap)
		}
		p.Put(b)
	}
	// A buffer put back is handed out again for any length of its class (sync.Pool may
	// drop it at a GC, so look for reuse over several tries), with its old bytes.
	reused := false
	for range 100 {
		b := p.Get(3000)
		(*b)[0] = 0xAB
		p.Put(b)
		c := p.Get(2100)
		reused = reused || (&(*c)[:1][0] == &(*b)[:1][0] && (*c)[0] == 0xAB && len(*c) == 2100)
		p.Put(c)
	}
	if !reused {
		t.Fatal("a returned buffer was never handed out again")
	}
	// Buffers whose capacity is not a class are dropped, never handed out short.
	odd := make([]byte, 300)
	p.Put(&odd)
	for range 100 {
		if b := p.Get(300); cap(*b) < 300 || cap(*b) == 300 {
			t.Fatalf("Get(300) returned capacity %d", cap(*b))
		}
	}
}
