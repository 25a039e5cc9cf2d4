package admin

import (
	"testing"

	"go.uber.org/goleak"
)

// The tests start brokers' services and HTTP servers; each closes what it started.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
