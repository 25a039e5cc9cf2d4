// Package queuecheck checks what a topic delivered against what its producers were
// told: the invariants of a durable queue, verified from the outside while faults
// are injected.
//
// Producers (the Producer runner, or a test's own code) send payloads that name
// themselves — producer id and sequence number, then padding up to a chosen size —
// and record every attempt, acknowledgement and failure in a Sends. Consumers (the
// Consumer runner) record every delivery of one subscription in a Receipts. Check
// compares the two:
//
//   - no loss: every acknowledged message was delivered at least once;
//   - no phantoms: nothing was delivered that no producer attempted, and every
//     delivery carries exactly the bytes attempted under its id;
//   - order (Options.Ordered, for an exclusive or failover subscription on a
//     non-partitioned topic): each producer's messages are first delivered in the
//     order they were sent.
//
// Duplicates (a message delivered more than once) and deliveries of messages whose
// send failed or never completed are allowed: at-least-once delivery permits them
// and a failed send may still have been stored. They are reported as counts.
//
// The checker is pure bookkeeping over the two records, so its rules are unit-tested
// with synthetic records; the runners only feed it.
package queuecheck
