package s3test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that a stopped or restarted server leaves no output reader behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
