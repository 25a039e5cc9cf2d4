package service

import (
	"context"
	"time"

	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/broker/resources"
)

// A topic enforces its effective policies: its namespace's record with the topic's
// overrides in place (resources.TopicPolicies.Apply). Both records are read at open and
// then follow the etcd watches of resources.PolicyWatch, which the Service listens to
// (NamespacePoliciesChanged and friends, below); a topic applies a record only if it is
// newer than the one it has.
//
// What is enforced and where:
//   - retention and persistence live in the managed ledger (SetRetention, SetPersistence;
//     given at open through OpenWith), which trims on its own triggers; so does the
//     offload policy (SetOffloadPolicy, right after open; offload.go); the periodic
//     retention check (RetentionCheckInterval) only starts a trim, for the time limit;
//   - message TTL and backlog quotas are periodic checks (enforce.go: checkTTL,
//     checkBacklogQuota), plus the quota check when a producer is added.

// NamespacePoliciesChanged implements resources.PolicyListener: it applies the record
// to the namespace's open topics.
func (s *Service) NamespacePoliciesChanged(ns string, rec resources.Versioned[resources.Policies]) {
	for _, t := range s.LoadedTopics() {
		if t.name.NamespaceName() == ns {
			t.applyPolicies(rec)
		}
	}
}

// TopicPoliciesChanged implements resources.PolicyListener: it applies an override
// record to the open topics it covers (every partition of a partitioned topic).
func (s *Service) TopicPoliciesChanged(key string, rec resources.Versioned[resources.TopicPolicies]) {
	for _, t := range s.LoadedTopics() {
		if resources.TopicPolicyKey(t.name) == key {
			t.applyTopicPolicies(rec)
		}
	}
}

// TopicPoliciesReset implements resources.PolicyListener: open topics whose record is
// gone lose their overrides.
func (s *Service) TopicPoliciesReset(rev int64, present map[string]bool) {
	for _, t := range s.LoadedTopics() {
		if !present[resources.TopicPolicyKey(t.name)] {
			t.applyTopicPolicies(resources.Versioned[resources.TopicPolicies]{Rev: rev})
		}
	}
}

// refreshPolicies applies the watched records of t, if newer than t's.
func (s *Service) refreshPolicies(t *Topic) {
	if rec, ok := s.policyWatch.Namespace(t.name.NamespaceName()); ok {
		t.applyPolicies(rec)
	}
	if rec, ok := s.policyWatch.Topic(resources.TopicPolicyKey(t.name)); ok {
		t.applyTopicPolicies(rec)
	}
}

// applyPolicies makes rec the topic's namespace policies unless it has a newer record.
func (t *Topic) applyPolicies(rec resources.Versioned[resources.Policies]) {
	t.polMu.Lock()
	if t.pol != nil && t.pol.Rev >= rec.Rev {
		t.polMu.Unlock()
		return
	}
	t.pol = &rec
	t.polMu.Unlock()
	t.applyMLPolicies()
}

// applyTopicPolicies makes rec the topic's overrides unless it has a newer record, and
// re-applies the effective retention and persistence.
func (t *Topic) applyTopicPolicies(rec resources.Versioned[resources.TopicPolicies]) {
	t.polMu.Lock()
	if t.tpol.Rev >= rec.Rev {
		t.polMu.Unlock()
		return
	}
	t.tpol = rec
	t.polMu.Unlock()
	t.applyMLPolicies()
}

// applyMLPolicies gives the managed ledger the effective retention, persistence and
// offload policy.
func (t *Topic) applyMLPolicies() {
	p := t.policies()
	mp := mlPolicies(p)
	t.ml.SetRetention(mp.Retention)
	t.ml.SetPersistence(mp.Persistence)
	t.ml.SetOffloadPolicy(t.svc.offloadPolicy(p))
}

// policies returns the topic's effective policies: its namespace's, with the topic's
// overrides in place.
func (t *Topic) policies() resources.Policies {
	t.polMu.Lock()
	defer t.polMu.Unlock()
	var p resources.Policies
	if t.pol != nil {
		p = t.pol.Value
	}
	return t.tpol.Value.Apply(p)
}

// effectivePolicies reads the namespace record and the topic's overrides from etcd
// (producer and consumer admission) and merges them.
func (t *Topic) effectivePolicies(ctx context.Context) (resources.Policies, error) {
	pol, err := t.svc.Namespaces.Policies(ctx, t.name.NamespaceName())
	if err != nil {
		return resources.Policies{}, err
	}
	tp, err := t.svc.Namespaces.TopicPolicies(ctx, t.name)
	if err != nil {
		return resources.Policies{}, err
	}
	return tp.Apply(pol), nil
}

// mlPolicies translates the namespace record for the managed ledger: retention in
// minutes and MB, -1 infinite; no retention record is Pulsar's default (0, 0).
func mlPolicies(p resources.Policies) managedledger.Policies {
	var out managedledger.Policies
	if r := p.Retention; r != nil {
		out.Retention.Time = time.Duration(r.RetentionTimeInMinutes) * time.Minute
		if r.RetentionTimeInMinutes < 0 {
			out.Retention.Time = -1
		}
		out.Retention.Size = r.RetentionSizeInMB << 20
		if r.RetentionSizeInMB < 0 {
			out.Retention.Size = -1
		}
	}
	if ps := p.Persistence; ps != nil {
		out.Persistence = managedledger.Persistence{EnsembleSize: ps.BookkeeperEnsemble,
			WriteQuorum: ps.BookkeeperWriteQuorum, AckQuorum: ps.BookkeeperAckQuorum}
	}
	return out
}
