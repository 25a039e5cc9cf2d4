package e2e

import (
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/strata-io/strata/internal/testenv"
)

// Helpers of the TestMessaging* tests beyond sending and receiving (clients_test.go):
// payloads, publish times and message ids.

// randomBytes returns n bytes from the test's seeded source (testenv.Rand: the seed is
// printed if the test fails); they do not compress, so a chunked message stays large on
// the wire.
func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	r := testenv.Rand(t)
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n - n%8; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// nextMillisecond returns once the wall clock's millisecond has moved past ms, so that
// messages sent before and after carry different publish times. The event waited on is
// the clock itself: it polls it every 100 µs, for at most a millisecond.
func nextMillisecond(ms int64) {
	for time.Now().UnixMilli() <= ms {
		time.Sleep(100 * time.Microsecond)
	}
}

// idKey is (ledger, entry, batch index) of an id, for comparisons.
func idKey(id pulsar.MessageID) [3]int64 {
	return [3]int64{id.LedgerID(), id.EntryID(), int64(id.BatchIdx())}
}
