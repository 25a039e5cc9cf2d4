package limits

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that the loopback measurement leaves no goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
