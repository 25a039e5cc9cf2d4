package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/metadata"
)

// Namespace policies reach open topics by a watch on the namespaces prefix in etcd
// (metadata.Store.Watch, which re-lists after a compaction), not by polling: a change
// made through the admin API on any broker is applied within one etcd round trip, and an
// idle broker costs nothing. The watcher keeps the latest record of every namespace with
// its revision; a topic applies a record only if it is newer than the one it has, so the
// record read at open and the watched ones can arrive in any order.
//
// What is enforced and where:
//   - retention and persistence live in the managed ledger (SetRetention, SetPersistence;
//     given at open through OpenWith), which trims on its own triggers; the periodic
//     retention check (RetentionCheckInterval) only starts a trim, for the time limit;
//   - message TTL and backlog quotas are periodic checks here (checkTTL,
//     checkBacklogQuota), plus the quota check when a producer is added.

// policySnapshot is a namespace's record as of an etcd revision.
type policySnapshot struct {
	p   Policies
	rev int64
}

// policyEnforcer is the Service's policy machinery: the watch and the periodic checks.
type policyEnforcer struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// policiesWithRevision returns a namespace's policies and the record's revision.
func (n *Namespaces) policiesWithRevision(ctx context.Context, ns string) (Policies, int64, error) {
	v, err := n.s.Get(ctx, n.nsKey(ns))
	if err != nil {
		if errors.Is(err, metadata.ErrNotFound) {
			return Policies{}, 0, fmt.Errorf("%w: namespace %s", ErrNotFound, ns)
		}
		return Policies{}, 0, err
	}
	var p Policies
	if err := json.Unmarshal(v.Data, &p); err != nil {
		return Policies{}, 0, fmt.Errorf("service: namespace %s: bad record: %w", ns, err)
	}
	return p, v.ModRevision, nil
}

// EnforcePolicies starts watching namespace and topic-level policies, the periodic
// retention, TTL and backlog-quota checks, and the rate sampler (rates.go); Close stops
// them. Without it, policies are applied when a topic opens only and rates read 0.
func (s *Service) EnforcePolicies() {
	ctx, cancel := context.WithCancel(context.Background())
	s.mu.Lock()
	if s.closed || s.enforcer != nil {
		s.mu.Unlock()
		cancel()
		return
	}
	e := &policyEnforcer{cancel: cancel}
	s.enforcer = e
	s.mu.Unlock()
	e.wg.Add(4)
	go func() {
		defer e.wg.Done()
		s.sampleRatesLoop(ctx)
	}()
	go func() {
		defer e.wg.Done()
		s.watchTopicPolicies(ctx)
	}()
	go func() {
		defer e.wg.Done()
		s.watchPolicies(ctx)
	}()
	go func() {
		defer e.wg.Done()
		s.checkLoop(ctx)
	}()
}

// stopEnforcing stops what EnforcePolicies started and waits for it.
func (s *Service) stopEnforcing() {
	s.mu.Lock()
	e := s.enforcer
	s.mu.Unlock()
	if e != nil {
		e.cancel()
		e.wg.Wait()
	}
}

func (s *Service) namespacesPrefix() string { return s.store.Keys.Under("namespaces") + "/" }

func (s *Service) watchPolicies(ctx context.Context) {
	prefix := s.namespacesPrefix()
	var from int64
	for ctx.Err() == nil {
		vals, rev, err := s.store.List(ctx, prefix)
		if err == nil {
			s.resetPolicies(prefix, vals, rev)
			from = rev + 1
			break
		}
		s.log.Warn("list namespace policies", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
	for ev := range s.store.Watch(ctx, prefix, from) {
		switch ev.Type {
		case metadata.EventReset:
			s.resetPolicies(prefix, ev.Snapshot, ev.Revision)
		case metadata.EventPut:
			ns := strings.TrimPrefix(ev.Value.Key, prefix)
			var p Policies
			if err := json.Unmarshal(ev.Value.Data, &p); err != nil {
				s.log.Warn("bad namespace record", "namespace", ns, "err", err)
				continue
			}
			s.policiesChanged(ns, policySnapshot{p: p, rev: ev.Value.ModRevision})
		case metadata.EventDelete:
			ns := strings.TrimPrefix(ev.Value.Key, prefix)
			s.mu.Lock()
			delete(s.nsPolicies, ns)
			s.mu.Unlock()
		}
	}
}

// resetPolicies replaces every known record with a full listing.
func (s *Service) resetPolicies(prefix string, vals []metadata.Value, rev int64) {
	s.mu.Lock()
	s.nsPolicies = map[string]policySnapshot{}
	s.mu.Unlock()
	for _, v := range vals {
		ns := strings.TrimPrefix(v.Key, prefix)
		if strings.Count(ns, "/") != 1 {
			continue
		}
		var p Policies
		if err := json.Unmarshal(v.Data, &p); err != nil {
			continue
		}
		s.policiesChanged(ns, policySnapshot{p: p, rev: v.ModRevision})
	}
}

// policiesChanged records a namespace's record and applies it to its open topics.
// Ordering with load: the record is stored before the topics are listed, and load
// looks the record up after the topic became visible, so a topic misses no change.
func (s *Service) policiesChanged(ns string, snap policySnapshot) {
	s.mu.Lock()
	if s.nsPolicies == nil {
		s.nsPolicies = map[string]policySnapshot{}
	}
	s.nsPolicies[ns] = snap
	s.mu.Unlock()
	for _, t := range s.LoadedTopics() {
		if t.name.NamespaceName() == ns {
			t.applyPolicies(snap)
		}
	}
}

// refreshPolicies applies the watched record of t's namespace, if newer than t's.
func (s *Service) refreshPolicies(t *Topic) {
	s.mu.Lock()
	snap, ok := s.nsPolicies[t.name.NamespaceName()]
	tsnap, tok := s.topicPols[topicPolicyKeySuffix(t.name)]
	s.mu.Unlock()
	if ok {
		t.applyPolicies(snap)
	}
	if tok {
		t.applyTopicPolicies(tsnap)
	}
}

// applyPolicies makes snap the topic's policies unless it has a newer record.
func (t *Topic) applyPolicies(snap policySnapshot) {
	t.polMu.Lock()
	if t.pol != nil && t.pol.rev >= snap.rev {
		t.polMu.Unlock()
		return
	}
	t.pol = &snap
	t.polMu.Unlock()
	t.applyMLPolicies()
}

// policies returns the topic's effective policies: its namespace's, with the topic's
// overrides (topicpolicy.go) in place.
func (t *Topic) policies() Policies {
	t.polMu.Lock()
	defer t.polMu.Unlock()
	var p Policies
	if t.pol != nil {
		p = t.pol.p
	}
	return t.tpol.p.Apply(p)
}

// mlPolicies translates the namespace record for the managed ledger: retention in
// minutes and MB, -1 infinite; no retention record is Pulsar's default (0, 0).
func mlPolicies(p Policies) managedledger.Policies {
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

// checkLoop runs the periodic checks, one kind at a time.
func (s *Service) checkLoop(ctx context.Context) {
	ret := time.NewTicker(s.cfg.RetentionCheckInterval)
	defer ret.Stop()
	ttl := time.NewTicker(s.cfg.MessageExpiryCheckInterval)
	defer ttl.Stop()
	quota := time.NewTicker(s.cfg.BacklogQuotaCheckInterval)
	defer quota.Stop()
	each := func(f func(*Topic, context.Context) error, what string) {
		for _, t := range s.LoadedTopics() {
			if ctx.Err() != nil {
				return
			}
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			if err := f(t, cctx); err != nil && ctx.Err() == nil {
				s.log.Warn(what, "topic", t.name.String(), "err", err)
			}
			cancel()
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-ret.C:
			each(func(t *Topic, _ context.Context) error { t.ml.CheckRetention(); return nil }, "retention check")
		case <-ttl.C:
			each((*Topic).checkTTL, "message TTL check")
		case <-quota.C:
			each((*Topic).checkBacklogQuota, "backlog quota check")
		}
	}
}
