package service

import (
	"context"

	"github.com/strata-io/strata/broker/resources"
)

// TopicHooks attach per-topic components (the metrics collector now; a geo-replicator
// and an offloader next) to the topic lifecycle without this package importing them.
// They are registered through Config.TopicHooks and called in that order.
//
// The contract:
//   - TopicLoaded is called once per open of a topic on this broker, on the goroutine
//     that opened it, after its managed ledger is open and before the topic becomes
//     visible (to other openers, LoadedTopics, unloads): nothing can close the topic
//     while it runs, and every TopicClosing of that topic comes after it. Openers of the
//     topic wait for it, so it must return promptly: a hook that has slow work to do
//     (connect to a remote cluster) starts it on a goroutine of its own, which it stops
//     in TopicClosing. It must not open the same topic (Service.Topic would wait for
//     itself). pol is the topic's effective policies at open (namespace record with the
//     topic's overrides); later changes are not reported here.
//   - TopicClosing is called once for each topic that was loaded, whatever closes it:
//     an unload (admin, bundle release, lost ownership), a delete, a fence (another
//     broker took it over), the broker closing. It runs on the goroutine closing the
//     topic after its producers and consumers were disconnected and before its managed
//     ledger closes; Close waits for it. It may block (stop a replicator, finish an
//     offload step) but should end by ctx's deadline (Close allows 30 s); the managed
//     ledger closes when it returns, whatever it did.
//   - Neither returns an error: a hook that fails logs it and retries or gives up on
//     its own; the topic serves regardless. A hook must not panic.
type TopicHooks interface {
	TopicLoaded(t *Topic, pol resources.Policies)
	TopicClosing(ctx context.Context, t *Topic)
}

// topicLoaded tells every hook that t was loaded.
func (s *Service) topicLoaded(t *Topic) {
	if len(s.cfg.TopicHooks) == 0 {
		return
	}
	pol := t.policies()
	for _, h := range s.cfg.TopicHooks {
		h.TopicLoaded(t, pol)
	}
}

// topicClosing tells every hook that t is closing, and returns when they all have.
func (s *Service) topicClosing(ctx context.Context, t *Topic) {
	for _, h := range s.cfg.TopicHooks {
		h.TopicClosing(ctx, t)
	}
}
