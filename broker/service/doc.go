// Package service holds a broker's live topics: the registry that opens each topic's
// managed ledger once, the topics with their producers and subscriptions, and the
// enforcement of the policies they obey. It knows nothing of sockets: the Pulsar
// protocol layer (broker/server) calls into it and receives messages to deliver through
// the ConsumerSink interface. The etcd records it obeys (tenants, namespaces, topic
// policies, schemas) and their watches are broker/resources'; the Service listens to
// resources.PolicyWatch and applies each change to its open topics.
//
// Files: service.go (registry, open), lifecycle.go (admin create/delete/unload),
// topic.go (producers, publish, close), subscribe.go / subscription.go /
// subscription_read.go / consumer.go (subscriptions: creation, the goroutine that owns
// the dispatcher, its reads, the consumer handle), policy.go (applying records),
// enforce.go / ttl.go / backlogquota.go / rates.go (the periodic loops), dedup.go,
// hooks.go (TopicHooks), goroutines.go (owned background goroutines).
//
// Invariants:
//   - A topic is open at most once per broker; concurrent opens wait for the first.
//   - Publish callbacks for one topic run in the order of Publish calls, so a producer's
//     receipts leave in send order.
//   - A topic whose managed ledger was fenced (another broker took it over) closes
//     itself and disconnects its producers and consumers; clients reconnect via lookup.
//   - Every goroutine has an owner whose Close cancels its context and waits for it:
//     the Service (policy loops, topics closing themselves), a Topic (deduplication
//     snapshots), a Subscription (its loop, new-entries watcher and reads).
//   - TopicHooks hear TopicLoaded once per open, before the topic is visible, and
//     TopicClosing once per close, before the managed ledger closes.
package service
