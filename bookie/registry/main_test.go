package registry_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The registry starts no goroutine itself, but its tests hold etcd leases, whose
// keepalives must end with each test.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
