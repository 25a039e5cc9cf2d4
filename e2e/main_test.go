package e2e

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: consumer loops, senders and
// the Pulsar clients' own goroutines (closed at each test's cleanup). One client
// goroutine is exempt: a closed producer's failTimeoutMessages notices the close only
// when its SendTimeout timer next fires (pulsar-client-go v0.19.0,
// pulsar/producer_partition.go), up to 30 s after Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/apache/pulsar-client-go/pulsar.(*partitionProducer).failTimeoutMessages"))
}
