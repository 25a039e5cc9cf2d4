// Package replication decides what a geo-replicator does: one replicator per topic (per
// partition) per remote cluster copies the topic's entries to the same topic in the
// remote cluster. This package holds its decisions as a plain state machine (Replicator,
// sm.go); the driver that runs it against a cursor and a remote producer comes next.
//
// # The state machine
//
// Inputs, each with the current time (the state machine never reads a clock): the
// entries a cursor read returned (ReadDone) or its failure (ReadFailed); the remote
// producer created (Connected), not created (ConnectFailed) or lost (Disconnected); a
// send's receipt (Receipt) or failure (SendFailed); the remote over its backlog quota
// (QuotaExceeded); the rate limit's permits for a period (Permits); the timer firing
// (Tick); Close. Each returns a Ready: close the producer, move the cursor's mark-delete,
// rewind the cursor to its mark-delete, create a producer, send entries, read up to N
// entries, arm the timer, and the new Status when it changed (what the replicator does
// and, when it is not making progress, why: the remote's last error and when it retries,
// the rate limit, a failed read, a full queue).
//
// Invariants, which the traces (testdata/sm) and a seeded randomized test check:
//   - Entries are sent in cursor order, with replicated_from set to the local cluster and
//     the original producer name and sequence id, which the remote deduplicates on.
//     Entries with replicated_from already set (they came from another cluster: the loop
//     breaker) or whose replicate_to leaves the remote out are never sent, only
//     acknowledged.
//   - The mark-delete moves only over entries receipted by the remote or skipped: never
//     past an entry still awaiting its receipt.
//   - Receipts come in send order. Any failure — a send failure, a receipt out of order,
//     a lost connection, the remote's backlog quota — closes the producer, drops
//     everything in flight and rewinds the cursor: after the reconnect, sending starts
//     again from the mark-delete (the remote's dedup drops what it already has). Nothing
//     receipted is ever sent again otherwise, so a failed entry is never skipped.
//   - Reconnects wait BackoffInitial·2^n, capped at BackoffMax; a receipt (or a
//     connection that lived BackoffMax) resets n. A paused replicator (remote backlog
//     quota) retries the same way, so it always resumes. A failed read is retried after
//     its own capped backoff.
//   - At most one read is outstanding, and entries read but not receipted never exceed
//     QueueSize; a read is issued when less than 90 % of the queue is used.
//   - Stale reports (a receipt from a closed producer, the result of a read cancelled by
//     a rewind) carry an old id and are ignored.
//
// # The driver (next step)
//
// One goroutine owns each Replicator, started by a service.TopicHooks implementation
// in TopicLoaded (for each remote in the topic's effective replication clusters, on a
// durable cursor named CursorName(remote) opened at the latest position) and stopped in
// TopicClosing. It selects on: the cursor read's result (a read-or-wait on the managed
// ledger), the remote producer's events (created, receipt, send error, disconnect), the
// rate limiter's period ticker, its one timer, policy changes and ctx.Done(). It feeds
// each event to the state machine and carries out the Ready in its documented order
// (Disconnect, Ack, Rewind, Connect, Sends, Read, Timer), logging each Status change and
// exposing the latest in topic stats. Only that goroutine touches the Replicator, so it
// needs no lock.
package replication
