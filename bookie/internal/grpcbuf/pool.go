// Package grpcbuf is the gRPC buffer pool of the bookie RPCs, shared by the bookie's
// server and the ledger client.
//
// gRPC's default pool zeroes every buffer it hands out, over the buffer's whole
// capacity: a 40 KiB message taken from its 1 MiB class clears 1 MiB. On the read path
// that clearing was a sixth of a standalone broker's CPU during a catch-up read (each
// entry passes through a server buffer and a client buffer). The zeroing protects
// against code that reads a buffer beyond what it wrote; gRPC's own use fills every
// byte it hands on (a received message is read into the buffer with io.ReadFull; an
// outgoing one is marshalled into a buffer of exactly its size), and the bookie
// protocol's messages are unmarshalled into fresh memory, so nothing reads stale bytes.
package grpcbuf

import (
	"sync"

	"google.golang.org/grpc/mem"
)

// classes are the buffer capacities pooled, as powers of two: up to 8 MiB, which holds
// a ReadEntries answer (4 MiB of payload by default, or one entry of up to 5 MiB).
const (
	minShift = 8  // 256 B
	maxShift = 23 // 8 MiB
)

// Pool is a mem.BufferPool whose buffers are not zeroed. Safe for concurrent use.
type Pool struct {
	classes [maxShift - minShift + 1]sync.Pool
}

var _ mem.BufferPool = (*Pool)(nil)

// New returns an empty pool.
func New() *Pool { return &Pool{} }

// class returns the index of the smallest class that holds n bytes, or -1 when n is
// larger than every class.
func class(n int) int {
	for i := range maxShift - minShift + 1 {
		if n <= 1<<(minShift+i) {
			return i
		}
	}
	return -1
}

// Get returns a buffer of length n, its contents unspecified.
func (p *Pool) Get(n int) *[]byte {
	c := class(n)
	if c < 0 {
		b := make([]byte, n)
		return &b
	}
	if b, ok := p.classes[c].Get().(*[]byte); ok {
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n, 1<<(minShift+c))
	return &b
}

// Put returns a buffer to the pool; buffers of a capacity that is not a class are
// dropped.
func (p *Pool) Put(b *[]byte) {
	c := class(cap(*b))
	if c < 0 || cap(*b) != 1<<(minShift+c) {
		return
	}
	p.classes[c].Put(b)
}
