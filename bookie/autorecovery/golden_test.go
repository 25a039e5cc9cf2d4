package autorecovery_test

import (
	"testing"

	"github.com/strata-io/strata/bookie/autorecovery"
	"github.com/strata-io/strata/metadata/metadatatest"
)

// The election record (ROOT/autorecovery/leader) is stored in etcd; frozen.
func TestLeaderRecordGolden(t *testing.T) {
	metadatatest.GoldenJSON(t, "leader.json", autorecovery.LeaderRecord{ID: "bookie-1", SinceUnixMillis: 1795000000000})
}
