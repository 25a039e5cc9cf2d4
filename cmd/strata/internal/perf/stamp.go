package perf

import (
	"crypto/rand"
	"encoding/binary"
	"time"
)

// The payload stamp lets a consumer measure end-to-end latency to the nanosecond. The
// broker's publish_time has millisecond resolution, too coarse for a 1-2 ms figure.
//
//	bytes 0..7   send time: Unix nanoseconds, big-endian (the wall clock; producer and
//	             consumer are meant to run on one machine, so they share it)
//	bytes 8..15  stampMagic, telling a stamped payload from anyone else's bytes
//	bytes 16..   random filler up to --size
//
// Payloads shorter than StampSize are sent unstamped.
const StampSize = 16

var stampMagic = [8]byte{'s', 't', 'r', 'a', 't', 'a', 'p', '1'}

// payloadPool is random bytes that payloads are cut from, each at a different offset, so
// that neighbouring messages differ and a batch or a storage block of them does not
// compress (one payload repeated would, and would flatter disk and network figures).
type payloadPool struct {
	pool []byte
	size int
}

// payloadStride moves each payload's window in the pool by an odd amount, so windows
// repeat only after len(pool)/stride messages, far apart in any batch or block.
const payloadStride = 4099

func newPayloadPool(size int) *payloadPool {
	p := &payloadPool{pool: make([]byte, max(8<<20, 4*size)), size: size}
	_, _ = rand.Read(p.pool)
	return p
}

// fill writes the i-th payload into b (len(b) == size): its window of the pool, then the
// stamp of t over the first StampSize bytes.
func (p *payloadPool) fill(b []byte, i uint64, t time.Time) {
	off := int(i * payloadStride % uint64(len(p.pool)-p.size+1))
	copy(b, p.pool[off:off+p.size])
	stamp(b, t)
}

// stamp writes the send time t and the magic into b, if it is long enough.
func stamp(b []byte, t time.Time) {
	if len(b) >= StampSize {
		binary.BigEndian.PutUint64(b, uint64(t.UnixNano()))
		copy(b[8:16], stampMagic[:])
	}
}

// readStamp returns the send time written by stamp, if b carries one.
func readStamp(b []byte) (time.Time, bool) {
	if len(b) < StampSize || [8]byte(b[8:16]) != stampMagic {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(b))), true
}
