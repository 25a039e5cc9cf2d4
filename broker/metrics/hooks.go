package metrics

import (
	"context"

	"github.com/strata-io/strata/broker/resources"
	"github.com/strata-io/strata/broker/service"
)

// The Collector is a service.TopicHooks (registered through service.Config.TopicHooks,
// see broker.Start): a topic's latency buckets exist from its load to its close. Before,
// the first publish created them and the next scrape after the topic closed dropped
// them, so a broker that was never scraped kept every closed topic (the map key is the
// *service.Topic) reachable for good.

var _ service.TopicHooks = (*Collector)(nil)

// TopicLoaded implements service.TopicHooks.
func (c *Collector) TopicLoaded(t *service.Topic, _ resources.Policies) { c.track(t) }

// TopicClosing implements service.TopicHooks. Publishes that complete while the managed
// ledger closes are no longer counted per topic; the topic has left the snapshot by
// then (it is closing), so they were never reported anyway.
func (c *Collector) TopicClosing(_ context.Context, t *service.Topic) { c.forget(t) }
