// Package cursor holds the acknowledgement state of a durable subscription: which
// entries of a topic the subscription has acknowledged, in a form that stays small under
// the worst acknowledgement patterns and that persists as a versioned snapshot.
//
// A topic is a managed ledger, an ordered list of ledgers; an entry's Position is
// (ledger id, entry id), ordered lexicographically. An entry may be a batch of messages.
// A State records, for one subscription:
//
//   - the mark-delete position: every position at or before it is acknowledged;
//   - the entries individually acknowledged above it, one roaring bitmap of entry ids per
//     ledger (a bit per entry when holes and acks alternate, a few bytes per run when
//     they are contiguous);
//   - for batch entries partially acknowledged with batch-index acks, which messages of
//     the batch are acknowledged.
//
// The State does not read the topic. The owner hands it the topic's Layout (ledger ids
// and entry counts) with New, SetLayout and Extend; the State uses it to find the entry
// that follows another across ledger boundaries and empty ledgers, to refuse acks of
// entries that do not exist, and to count the backlog.
//
// The invariants every method preserves (see the `Invariant:` comments on State):
//
//   - Mark-delete is maximal: after every operation it has advanced over every
//     acknowledged entry contiguous with it, so the entry that follows it in the layout is
//     unacknowledged and the individual acks hold only entries above a gap.
//   - Individual and batch acks are strictly above mark-delete and name entries of the
//     layout; a position is never both acknowledged whole and partially.
//   - A partial batch ack has at least one message acknowledged and one not; when the
//     last message of a batch is acknowledged the entry becomes an individual ack.
//   - An operation that returns an error changes nothing.
//
// The package is deterministic and does no I/O: no goroutines, no clock, no locks. The
// goroutine that owns the topic owns its cursors, applies acks as they arrive, and
// persists Marshal's snapshot (throttled) — inline in etcd while EncodedSize is small, in
// a cursor ledger on the bookies when it is not. The snapshot format is specified byte by
// byte in docs/format/cursor.md and pinned by the fixtures in testdata/.
package cursor
