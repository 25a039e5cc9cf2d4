package service

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/strata-io/strata/internal/testenv"
)

// Every goroutine the package starts has an owner whose Close waits for it: once the
// tests closed their services, none may be left.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// failsafe bounds a test that hangs; nothing waits on it.
const failsafe = 60 * time.Second

func testCtx(t testing.TB) context.Context { return testenv.Context(t, failsafe) }
