package e2e

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: the tests' own consumer loops
// and senders, the harness's proxies and process watchers, and the Pulsar clients
// (closed at each test's cleanup). pulsar-client-go v0.19.0 itself leaves some
// goroutines behind, which are exempt:
//   - timers that outlive Close: a producer's failTimeoutMessages runs until its
//     SendTimeout next fires (pulsar/producer_partition.go), a chunked message's
//     discardChunkIfExpire until ExpireTimeOfIncompleteChunk (pulsar/consumer_partition.go);
//   - the goroutines of a producer or consumer that Close skips because it is not in
//     the ready state: closed by a reconnect (its topic was deleted, terminated or
//     fenced, as some tests do on purpose) or still reconnecting.
func TestMain(m *testing.M) {
	const client = "github.com/apache/pulsar-client-go/pulsar."
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction(client+"(*partitionProducer).failTimeoutMessages"),
		goleak.IgnoreTopFunction(client+"(*chunkedMsgCtxMap).discardChunkIfExpire"),
		goleak.IgnoreTopFunction(client+"(*partitionProducer).runEventsLoop.func1"),
		goleak.IgnoreTopFunction(client+"(*partitionConsumer).runEventsLoop"),
		goleak.IgnoreTopFunction(client+"(*partitionConsumer).dispatcher"),
		goleak.IgnoreTopFunction(client+"newAckGroupingTracker.func1"))
}
