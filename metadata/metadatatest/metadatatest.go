// Package metadatatest starts a real embedded etcd for tests: random loopback ports, a
// temp dir, fast election. There is no fake etcd in Strata's tests.
package metadatatest

import (
	"testing"

	"github.com/strata-io/strata/metadata"
)

// Start runs an embedded etcd for the life of the test and returns its endpoint.
func Start(t testing.TB) string {
	t.Helper()
	e, err := metadata.StartEmbedded(metadata.EmbeddedConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("embedded etcd: %v", err)
	}
	t.Cleanup(e.Close)
	return e.Endpoint()
}

// Store runs an embedded etcd and returns a Store connected to it under root.
func Store(t testing.TB, root string) (*metadata.Store, string) {
	t.Helper()
	ep := Start(t)
	s, err := metadata.Open(metadata.Config{Endpoints: []string{ep}, Root: root})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, ep
}
