// Package store is a bookie's local storage: ledger entries and per-ledger state in one
// Pebble database, written through a single group-committing goroutine.
//
// # Write path
//
// Every mutation — an entry add, an explicit LAC update, a fence, a ledger deletion — is
// an op queued to the committer goroutine (commit.go). The committer takes everything
// queued since its last round, checks each op against the ledger state (fenced?
// duplicate?), writes all accepted ops plus the updated ledger state records into ONE
// Pebble batch, commits it with Sync, and only then publishes the new in-memory state and
// runs the callbacks. So one fsync covers every add that arrived while the previous one
// was in progress: under concurrency the cost of durability is shared, and with a single
// writer in flight the store is as fast as the disk's fsync.
//
// # Invariants
//
//   - An add's callback reports success only after the batch holding it was synced: an
//     acknowledged entry survives a crash. An add whose callback has not run may or may
//     not survive one.
//   - A fence is synced before Fence returns; from then on normal adds of the ledger are
//     refused with ErrFenced, recovery adds are accepted. A fence of a ledger the store
//     has never seen records it, so a late add from an old writer is still refused.
//   - The committer is the only goroutine that writes to Pebble or changes ledger state.
//     Ops are applied in queue order, so within one batch an add queued after a fence is
//     refused and one queued before it is stored.
//   - The in-memory state of a ledger (LAC, last entry id, fenced) is the state of the
//     last synced batch; readers never see state that a crash could take back, except an
//     explicit LAC (UpdateLAC), which is persisted lazily (see docs/format/bookie.md).
//   - Every entry is stored with the CRC32C of its payload, checked against the writer's
//     before storing and verified again on every read. A stored record that fails its
//     checks is reported as *CorruptEntryError, never returned as data.
//   - An entry id, once stored with some bytes, is never silently replaced by different
//     bytes: an identical resend succeeds, a different one is refused with
//     ErrDuplicateEntry (recovery adds included). The one exception is a stored record
//     that fails its CRC, which a valid add may repair.
//
// The on-disk layout (keys, record formats, the format version) is specified in
// docs/format/bookie.md; format.go implements it.
package store
