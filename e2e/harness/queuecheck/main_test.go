package queuecheck

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that the waiting tests leave no goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
