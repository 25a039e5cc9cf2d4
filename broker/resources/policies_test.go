package resources

import "testing"

func TestTopicPoliciesApply(t *testing.T) {
	ttl, maxP, dedup := 5, 2, true
	ns := Policies{MessageTTLInSeconds: 60, MaxProducersPerTopic: 10, MaxConsumersPerTopic: 3,
		BacklogQuotas: map[string]BacklogQuota{"destination_storage": {LimitSize: 1, Policy: "producer_exception"}}}
	tp := TopicPolicies{MessageTTLInSeconds: &ttl, MaxProducers: &maxP, DeduplicationEnabled: &dedup,
		BacklogQuotas: map[string]BacklogQuota{"message_age": {LimitTime: 9, Policy: "producer_exception"}}}
	eff := tp.Apply(ns)
	if eff.MessageTTLInSeconds != 5 || eff.MaxProducersPerTopic != 2 || eff.MaxConsumersPerTopic != 3 ||
		eff.DeduplicationEnabled == nil || !*eff.DeduplicationEnabled || len(eff.BacklogQuotas) != 2 {
		t.Fatalf("effective policies = %+v", eff)
	}
	if len(ns.BacklogQuotas) != 1 {
		t.Fatal("Apply changed the namespace's quota map")
	}
	if got := (TopicPolicies{}).Apply(ns); got.MessageTTLInSeconds != 60 || got.MaxProducersPerTopic != 10 {
		t.Fatalf("no override changed the policies: %+v", got)
	}
}
