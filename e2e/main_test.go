package e2e

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: consumer loops, senders and
// the Pulsar clients' own goroutines (closed at each test's cleanup). Two goroutines of
// pulsar-client-go v0.19.0's producers (pulsar/producer_partition.go) are exempt, as
// the library leaves them behind, not the tests:
//   - failTimeoutMessages notices a Close only when its SendTimeout timer next fires,
//     up to 30 s later;
//   - runEventsLoop's reconnect loop ends only when Close cancels the producer's
//     context, which Close skips when a reconnect already closed the producer (its
//     topic was deleted, terminated or fenced, as some tests do on purpose).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/apache/pulsar-client-go/pulsar.(*partitionProducer).failTimeoutMessages"),
		goleak.IgnoreTopFunction("github.com/apache/pulsar-client-go/pulsar.(*partitionProducer).runEventsLoop.func1"))
}
