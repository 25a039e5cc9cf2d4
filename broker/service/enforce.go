package service

import (
	"context"
	"sync"
	"time"
)

// The enforcement loops stay in this package because they act on live topics (TTL and
// backlog quotas acknowledge through subscriptions, quotas disconnect producers); the
// records they enforce and the watches that follow them are in broker/resources.

// policyEnforcer is what EnforcePolicies started: the policy watches, the periodic
// checks and the rate sampler, under one context that Service.Close cancels.
type policyEnforcer struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// EnforcePolicies starts watching namespace and topic-level policies, the periodic
// retention, TTL and backlog-quota checks, and the rate sampler (rates.go); Close stops
// them and waits for them. Without it, policies are applied when a topic opens only and
// rates read 0.
func (s *Service) EnforcePolicies() {
	s.mu.Lock()
	if s.closed || s.enforcer != nil {
		s.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(s.ctx)
	e := &policyEnforcer{cancel: cancel}
	s.enforcer = e
	s.mu.Unlock()
	for _, run := range []func(context.Context){s.sampleRatesLoop, s.policyWatch.WatchTopicPolicies,
		s.policyWatch.WatchNamespaces, s.checkLoop} {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			run(ctx)
		}()
	}
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
