package ledger_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/strata-io/strata/bookie/bookietest"
	"github.com/strata-io/strata/internal/testenv"
	bookiev1 "github.com/strata-io/strata/proto/bookie/v1"
)

// The ledger client's integration tests run against bookietest's cluster: a real
// embedded etcd and real in-process bookies b1..bn on loopback ports.

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// failsafe bounds every integration test; nothing waits on time otherwise.
const failsafe = 60 * time.Second

func testCtx(t testing.TB) context.Context { return testenv.Context(t, failsafe) }

// waitBookieLAC long-polls one bookie until its LAC for the ledger reaches at least lac.
func waitBookieLAC(ctx context.Context, t testing.TB, c *bookietest.Cluster, id string, ledgerID int64, lac int64) {
	t.Helper()
	rpc := c.RawClient(id)
	for {
		resp, err := rpc.ReadLAC(ctx, &bookiev1.ReadLACRequest{LedgerId: uint64(ledgerID), LongPollAfterLac: lac - 1, WaitMillis: 10_000})
		if err == nil && resp.Lac >= lac {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("bookie %s never reached LAC %d of ledger %d: %v", id, lac, ledgerID, err)
		}
	}
}

// payloadFor is entry i's content: unique per (tag, i), of a size drawn from rng.
func payloadFor(rng *rand.Rand, tag string, i int) []byte {
	p := []byte(fmt.Sprintf("%s-%06d-", tag, i))
	n := rng.IntN(256)
	for j := 0; j < n; j++ {
		p = append(p, byte('a'+rng.IntN(26)))
	}
	return p
}
