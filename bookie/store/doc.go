// Package store is a bookie's local storage: ledger entries and per-ledger state in one
// Pebble database, written through a two-stage group-commit pipeline.
//
// # Write path
//
// Every mutation — an entry add, an explicit LAC update, a fence, a ledger deletion — is
// an op queued to the builder goroutine (commit.go, build.go). The builder takes
// everything queued since its last round, checks each op against the ledger state
// (fenced? duplicate?), writes all accepted ops plus the updated ledger state records
// into ONE Pebble batch and applies it: memtable and WAL, with the WAL fsync requested
// but not waited for (pebble.DB.ApplyNoSyncWait). It hands the batch to the completer
// goroutine (complete.go) and goes on with the next ops at once. The completer takes
// the batches in the order they were applied, waits for each one's fsync
// (Batch.SyncWait), and only then publishes the new in-memory state and runs the
// callbacks.
//
// So the CPU work of a batch (deciding, encoding, memtable inserts) overlaps the fsync
// of the batch before it, and Pebble's WAL writer starts the next fsync the moment the
// previous one returns. One fsync still covers every add that arrived while the
// previous one was in progress (group commit: the fsync is the gathering window, no
// timer is involved), and with a single writer in flight the store is as fast as the
// disk's fsync. At most maxInFlightBatches batches are between "applied" and
// "answered"; when they are all taken, the builder waits and the queue grows into the
// next batch.
//
// # Invariants
//
//   - An op's callback reports success only after the fsync covering its batch
//     returned, and after every batch applied before it was answered: an acknowledged
//     entry (or fence, or deletion) survives a crash, and so does everything queued
//     before it. An add whose callback has not run may or may not survive one.
//   - Ops are decided in queue order and answered in queue order, so the adds of one
//     ledger are acknowledged in the order they were queued.
//   - A fence is synced before Fence returns; from then on normal adds of the ledger are
//     refused with ErrFenced, recovery adds are accepted. A fence of a ledger the store
//     has never seen records it, so a late add from an old writer is still refused.
//   - A deletion is final: the batch that deletes a ledger's entries and state writes
//     its tombstone, and from then on the ledger reads as unknown and refuses every add
//     (recovery adds included) with ErrFenced. No op writes a state record for a
//     tombstoned ledger again, and tombstones are never removed (ledger ids are never
//     reused), so a fenced writer can never again get an add acknowledged, even after
//     the ledger was deleted.
//   - The builder is the only goroutine that writes to Pebble or decides anything. It
//     decides a batch on top of the batches applied before it, synced or not (its own
//     copy of the ledger states, Store.staging): an add queued after a fence is refused
//     even while the fence is still being fsynced, and that refusal is answered only
//     after the fence's batch was. Within a batch an add queued after a fence is
//     refused and one queued before it is stored.
//   - The published in-memory state of a ledger (LAC, last entry id, fenced: State,
//     WaitLAC) is the state of the last completed batch; readers never see state that a
//     crash could take back, except an explicit LAC (UpdateLAC), which is persisted
//     lazily (see docs/format/bookie.md). Entry reads go to Pebble, which serves a batch
//     from the moment it is applied, before its fsync (as it always did between a commit
//     and its sync); what a reader may rely on is bounded by the published LAC.
//   - A failed WAL fsync is fatal (the process panics, as Pebble does on a failed WAL
//     write): nothing of that batch or any later one is answered.
//   - Every entry is stored with the CRC32C of its payload, checked against the writer's
//     before storing and verified again on every read. A stored record that fails its
//     checks is reported as *CorruptEntryError, never returned as data.
//   - An entry id, once stored with some bytes, is never silently replaced by different
//     bytes: an identical resend succeeds, a different one is refused with
//     ErrDuplicateEntry (recovery adds included). The one exception is a stored record
//     that fails its CRC, which a valid add may repair.
//
// The on-disk layout (keys, record formats, the format version, the journal marker) is
// specified in docs/format/bookie.md; format.go and journal.go implement it.
package store
