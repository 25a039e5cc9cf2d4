// Package service holds a broker's live topics: the registry that opens each topic's
// managed ledger once, the topics with their producers and subscriptions, and the
// namespace metadata they obey. It knows nothing of sockets: the Pulsar protocol layer
// (broker/server) calls into it and receives messages to deliver through the Consumer
// interface.
//
// Invariants:
//   - A topic is open at most once per broker; concurrent opens wait for the first.
//   - Publish callbacks for one topic run in the order of Publish calls, so a producer's
//     receipts leave in send order.
//   - A topic whose managed ledger was fenced (another broker took it over) closes
//     itself and disconnects its producers and consumers; clients reconnect via lookup.
package service
