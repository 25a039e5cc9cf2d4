package registry_test

import (
	"testing"

	"github.com/strata-io/strata/bookie/registry"
	"github.com/strata-io/strata/metadata/metadatatest"
)

// The registration and draining-mark records are stored in etcd
// (docs/format/metadata.md); these fixtures are frozen.
func TestRecordsGolden(t *testing.T) {
	metadatatest.GoldenJSON(t, "registration-readwrite.json", registry.Info{
		ID: "bookie-1", Address: "127.0.0.1:3181", HTTP: "127.0.0.1:8000", DiskUsage: 0.42})
	metadatatest.GoldenJSON(t, "registration-readonly.json", registry.Info{
		ID: "bookie-2", Address: "127.0.0.1:3182", HTTP: "127.0.0.1:8001", ReadOnly: true, DiskUsage: 0.97})
	metadatatest.GoldenJSON(t, "draining.json", registry.DrainMark{SinceUnixMillis: 1795000000000})
}
