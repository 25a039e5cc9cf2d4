package ownership

import (
	"testing"

	"github.com/strata-io/strata/metadata/metadatatest"
)

// The broker, ownership and bundles records are stored in etcd
// (docs/format/metadata.md, "Broker records"); these fixtures are frozen.
func TestRecordsGolden(t *testing.T) {
	metadatatest.GoldenJSON(t, "broker.json", BrokerInfo{
		ID: "127.0.0.1:6650", PulsarURL: "pulsar://127.0.0.1:6650", HTTPURL: "http://127.0.0.1:8080", Bundles: 3,
		Load: Load{Topics: 12, Producers: 4, Consumers: 5, MsgRateIn: 1000.5, MsgRateOut: 998,
			ThroughputIn: 1024512, ThroughputOut: 1021952},
		StartedMillis: 1795000000000, UpdatedMillis: 1795000005000,
	})
	metadatatest.GoldenJSON(t, "owner.json", Owner{
		BrokerID: "127.0.0.1:6650", PulsarURL: "pulsar://127.0.0.1:6650", HTTPURL: "http://127.0.0.1:8080"})
	bs, err := EvenBundles(4).split("public/default", Bundle{Namespace: "public/default", Lo: 0, Hi: 0x40000000})
	if err != nil {
		t.Fatal(err)
	}
	metadatatest.GoldenJSON(t, "bundles.json", bs)
}
