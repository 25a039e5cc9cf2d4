// Package managedledger turns a list of ledgers into one unbounded, ordered log per
// topic, with cursors for its subscriptions.
//
// A managed ledger's record in etcd (Info) lists its ledgers in order. The broker that
// owns the topic opens it like this, and serves nothing before the last step succeeds:
//
//  1. read the record (create it if the topic is new) and claim it: rewrite it with a
//     CAS, so that every later CAS of the record by the previous owner fails;
//  2. recover every ledger that is not closed — the previous owner may have died while
//     writing, or while rolling over, so that can be the last two — which fences them on
//     the bookies, so the old owner can never again get an add acknowledged; ledgers
//     left empty are dropped;
//  3. create a new ledger and CAS-append it to the record;
//  4. load the durable cursors, rewriting each record (a CAS) so that the old owner's
//     next cursor flush fails instead of overwriting this owner's.
//
// If another broker did the same concurrently, one of the two CASes fails and that
// broker gives up the topic. A CAS of the record or of a cursor record that fails means
// the topic has a new owner: the managed ledger turns itself Fenced and fails every add
// with ErrFenced. A write that fails because its ledger was fenced means so only if the
// record changed too: the auto-recovery worker also fences and closes open ledgers (to
// re-replicate a lost bookie's last fragment). Then the owner, its record unchanged,
// reads the recovered ledger's last entry: adds up to it succeed, the others — in no
// ledger — are written to the next ledger, to which it rolls over (add.go).
//
// The add path's decisions — where an add goes, when to roll over, how a fenced
// ledger's adds end, the order of completions — are a state machine without I/O,
// goroutines or clock (addSM, addsm.go), tested by scripted traces
// (testdata/add/*.txt). add.go drives it: AsyncAdd, the writers' callbacks and the
// rollover and recovery tasks feed it under mu and carry out what it returns.
//
// Appends are pipelined through the ledger client and complete — their callbacks run,
// on one goroutine of the managed ledger — strictly in the order they were made, across
// rollovers and whatever their outcome. Rollover happens on the next append after the
// current ledger passes the entry count, size or age limit, or after a write to it
// failed (then the failed adds report their error and later adds go to the new ledger);
// new entries wait while the next ledger is created, the old one is closed in the
// background and then marked closed in the record.
//
// Reads are served from an in-memory cache of recently appended entries when possible
// (tailing consumers), otherwise from storage through the ledger's entryReader
// (entryreader.go) — its bookies, or the object store for a ledger whose record says
// its offload completed: openEntryReader alone decides, from the record. A reader that is behind and reads
// sequentially (a catch-up) gets read-ahead (readahead.go): the entries after its last
// read are fetched in the background, bounded per reader and per Factory, and never
// into the cache's range — so catch-up reads neither wait on every call nor evict the
// tailing readers' entries.
//
// Trimming runs in the background after a durable cursor's mark-delete moves into
// another ledger or onto the end of a closed one, after a rolled-over ledger is closed,
// after a cursor is deleted and on open. It deletes closed ledgers that every durable
// cursor has consumed — all closed ledgers when there is no durable cursor, Pulsar's
// zero retention — and closed empty ledgers: first from the record, then from the
// bookies.
//
// # Offload (tiered storage)
//
// With Config.Offload.Store set, closed ledgers are copied to an object store
// (offload.go) in Pulsar's two steps: prepare — the record gets the attempt's fresh
// UUID, state begun (an earlier attempt's object is deleted first) — then the copy from
// the bookies into one tiered/offload object, read back and verified, then complete —
// a CAS of state complete, retried on a failing etcd, never on a changed UUID or a new
// owner. A failure before complete deletes the object, best effort. One offload task
// per managed ledger runs the offloads, one ledger at a time (offloadtrigger.go); the
// automatic check (policy thresholds by size and by close time) is asked for when a
// ledger is closed, on open, on SetOffloadPolicy and by a one-minute tick, and checks
// asked for while the task runs coalesce into one more pass. The tick also rolls over a
// current ledger idle for the policy's IdleRollover — through the add state machine
// (addSM.RollIdle), like any rollover — so a quiet topic offloads. Offload(before) is
// the manual trigger; OffloadStatus its result.
//
// Trim deletes the bookie copy of a ledger whose offload completed more than the
// deletion lag ago: it records bookieDeleted first, then deletes the bookie ledger; from
// then on the ledger is read from the store only. Retention deleting an offloaded
// ledger deletes its object after the record stopped listing it; Delete deletes every
// object under the managed ledger's key prefix; the orphan sweep (in the offload task,
// every OrphanSweepInterval) deletes objects the record names neither as complete nor
// as the attempt being uploaded. An offload and a trim never work on one ledger at
// once: each claims it first (busy, claimLedger).
//
// Reads of offloaded ledgers (offloadread.go) fetch whole blocks through the Factory's
// LRU block cache (fetches of one block shared; a sequential reader's next block
// prefetched) and return a wrapped store or checksum error — never wrong bytes —
// bounded by the caller's context. A complete offload whose bookie copy still exists is
// read from the store and, on an error, from the bookies (TIERED_STORAGE_FIRST), or from
// the bookies first (OffloadPolicy.BookkeeperFirst). The cached reader of a ledger is
// dropped whenever its offload state changes.
//
// A cursor snapshot larger than 64 KiB is written to a cursor ledger of its own; the
// previous cursor ledger is deleted once the record points at the new one.
//
// Time (ledger age, creation times in the record, retention, read-ahead expiry, offload
// thresholds, idle rollover, deletion lag, the offload tick and orphan sweep) comes from
// Config.Now; the offload copy throttle alone paces on the wall clock.
//
// # Locks
//
// A ManagedLedger has four mutexes (cursorMu, metaMu, submitMu, mu) and each Cursor
// two (persistMu, mu). They nest only in this order — a lock may be taken while holding
// locks to its left, never one to its right:
//
//	ml.cursorMu → Cursor.persistMu → ml.metaMu → ml.submitMu → ml.mu
//
// and Cursor.mu, like ml.mu, is a leaf: nothing is locked while holding it. So are the
// offload locks — the Factory's blockCache.mu and pacer.mu, and tieredFirst.mu — which
// are taken with no other lock held and never across I/O. The pairs
// that occur:
//   - cursorMu → persistMu (DeleteCursor); cursorMu → metaMu (OpenCursor adopting a
//     record: stillOwner); cursorMu → Cursor.mu, mu.
//   - persistMu → Cursor.mu; persistMu → mu (a lost CAS turns the managed ledger
//     Fenced).
//   - metaMu → submitMu → mu (a rollover installing the next ledger); metaMu → mu
//     (record writes, stillOwner, Delete).
//   - submitMu → mu (AsyncAdd, Close, Terminate, offloadTick's idle rollover).
//
// A cursor reads the managed ledger's layout (mu) before it takes its own mu
// (Cursor.layoutUpdate), so the two never nest. A function named …Locked needs one lock
// held — mu, or Cursor.mu for a Cursor's method — and takes none.
//
// Held across I/O, on purpose: cursorMu and persistMu (etcd, and the bookies for a
// cursor ledger: they only serialise the persistence of cursors; acks never take
// them); metaMu (the record's etcd round trips; nothing on the add path takes it); and
// submitMu while adds are handed to the writer, which blocks when the writer's queue is
// full — backpressure from the bookies reaches AsyncAdd there, and it keeps entry ids
// in the order of the adds. mu and Cursor.mu are never held across I/O; Cursor.Unacked
// holds Cursor.mu while its caller iterates.
//
// Invariants:
//   - LastConfirmed is the position of the last entry whose add completed successfully,
//     and every add before it completed too; every entry up to it is durable on Qa
//     bookies and readable. Nothing after it is readable, nor counted in Info (but for a
//     closed ledger's final count), so readers and cursors never see an entry before
//     every earlier add completed.
//   - Ledgers are deleted only when they are closed, every durable cursor's mark-delete
//     is past them (and retention allows it), and never the current ledger.
//   - A ledger's bookie copy is deleted before that only when its offload is recorded
//     complete and bookieDeleted (after the deletion lag); an offloaded object is
//     deleted only when the record no longer names it as complete.
package managedledger
