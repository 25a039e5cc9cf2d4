package resources

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/strata-io/strata/internal/testenv"
)

// The tests run a real embedded etcd and PolicyWatch loops: none may outlive them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// failsafe bounds a test that hangs; nothing waits on it.
const failsafe = 60 * time.Second

func testCtx(t testing.TB) context.Context { return testenv.Context(t, failsafe) }
