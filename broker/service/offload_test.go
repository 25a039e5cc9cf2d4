package service

import (
	"testing"
	"time"

	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/broker/resources"
)

func i64(v int64) *int64 { return &v }

// A topic's offload policy: topic object > namespace object > namespace single values >
// broker defaults, field by field; the idle rollover is the broker's alone.
func TestOffloadPolicyResolution(t *testing.T) {
	broker := managedledger.DefaultOffloadPolicy()
	broker.IdleRollover = 10 * time.Minute
	custom := managedledger.OffloadPolicy{ThresholdBytes: 1 << 30, ThresholdSeconds: 86400, DeletionLag: time.Hour,
		IdleRollover: time.Minute, BookkeeperFirst: true}
	for _, tc := range []struct {
		name string
		ns   resources.Policies
		tp   resources.TopicPolicies
		def  managedledger.OffloadPolicy
		want managedledger.OffloadPolicy
	}{
		{"nothing set: broker defaults", resources.Policies{}, resources.TopicPolicies{}, broker, broker},
		{"nothing set: custom broker", resources.Policies{}, resources.TopicPolicies{}, custom, custom},
		{"namespace single values",
			resources.Policies{OffloadThreshold: i64(0), OffloadThresholdInSeconds: i64(60), OffloadDeletionLagMs: i64(1500)},
			resources.TopicPolicies{}, broker,
			managedledger.OffloadPolicy{ThresholdBytes: 0, ThresholdSeconds: 60, DeletionLag: 1500 * time.Millisecond,
				IdleRollover: 10 * time.Minute}},
		{"namespace object over single values, -1 there is off",
			resources.Policies{OffloadThreshold: i64(5), OffloadPolicies: &resources.OffloadPolicies{Driver: "filesystem",
				ThresholdInBytes: i64(-1), ReadPriority: resources.ReadPriorityBookkeeperFirst}},
			resources.TopicPolicies{}, custom,
			managedledger.OffloadPolicy{ThresholdBytes: -1, ThresholdSeconds: 86400, DeletionLag: time.Hour,
				IdleRollover: time.Minute, BookkeeperFirst: true}},
		{"topic object over namespace",
			resources.Policies{OffloadThresholdInSeconds: i64(60), OffloadPolicies: &resources.OffloadPolicies{Driver: "filesystem",
				ThresholdInBytes: i64(100), ReadPriority: resources.ReadPriorityBookkeeperFirst}},
			resources.TopicPolicies{OffloadPolicies: &resources.OffloadPolicies{ThresholdInBytes: i64(7),
				DeletionLagInMillis: i64(0), ReadPriority: resources.ReadPriorityTieredFirst}},
			custom,
			managedledger.OffloadPolicy{ThresholdBytes: 7, ThresholdSeconds: 60, DeletionLag: 0,
				IdleRollover: time.Minute, BookkeeperFirst: false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Service{cfg: Config{OffloadDefaults: &tc.def}}
			if got := s.offloadPolicy(tc.tp.Apply(tc.ns)); got != tc.want {
				t.Fatalf("offload policy %+v, want %+v", got, tc.want)
			}
		})
	}
	var c Config
	c.applyDefaults()
	if *c.OffloadDefaults != managedledger.DefaultOffloadPolicy() {
		t.Fatalf("default broker offload policy %+v", *c.OffloadDefaults)
	}
}
