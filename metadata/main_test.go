package metadata_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/strata-io/strata/internal/testenv"
)

// Leases and watches run goroutines; none may outlive its test.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const failsafe = 30 * time.Second

func testCtx(t *testing.T) context.Context { return testenv.Context(t, failsafe) }
