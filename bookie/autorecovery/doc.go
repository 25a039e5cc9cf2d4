// Package autorecovery re-replicates ledger fragments whose bookie is gone or being
// decommissioned, so that every entry is back on Qw live bookies without an operator —
// BookKeeper's auditor and replication worker in one, for Strata's etcd metadata.
//
// # Who acts
//
// Every process that may run the worker (each `strata bookie` with --autorecovery,
// `strata standalone`) starts a candidate (Start). One of them is active: the one that
// created the key ROOT/autorecovery/leader under its etcd lease (election.go). It acts
// only while its term lasts — until the lease's local Deadline(), a lost lease or the
// key's deletion, whichever comes first — then revokes that lease and campaigns again
// with a new one. The others wait on a watch of the key.
//
// # What it does
//
// While active the worker follows ROOT/bookies/ (registrations and draining marks) with
// a watch, and audits every ledger's metadata when something changes, when something
// falls due and at least every ScanInterval (worker.go):
//
//   - A bookie that is listed in some fragment but not registered is missing. It falls
//     due LostBookieRecoveryDelay after the worker noticed it missing, so a bookie that
//     restarts within the delay costs nothing. A draining bookie
//     (`strata admin bookies decommission`) is due at once; it is alive, so it may be
//     read from.
//   - An immutable fragment — any fragment of a CLOSED ledger, and every fragment but
//     the last of an open one (its writer moved on at its first unacknowledged entry, so
//     everything before is acknowledged and never changes) — is re-replicated as soon
//     as its bookie is due (replicate.go): each entry the bookie should hold (entry e is
//     at ensemble positions ledger.WriteSet(e, E, Qw), the writer's striping) is read
//     from a live member of its write set and written to a replacement bookie with a
//     recovery add; once all are durable there, one CAS on the ledger's metadata puts
//     the replacement in the bookie's place. A lost CAS re-reads and retries while the
//     fragment still lists the bookie; if it does not any more, there is nothing to do.
//   - The last fragment of a ledger that is not CLOSED may still grow: its writer is
//     given OpenLedgerRereplicationGracePeriod (from when the bookie fell due) to replace
//     the bookie itself — a writer that is writing does so at its next add. After that
//     the worker fences and recovers the ledger (ledger.Client.OpenRecover, which closes
//     it) and re-replicates the now immutable fragment. The writer's next add fails with
//     ErrFenced; a managed ledger that is still its topic's owner rolls over to a new
//     ledger (broker/managedledger).
//   - An entry that no live replica has — every live member of its write set answers
//     NO_SUCH_ENTRY, or none is live — is lost: counted (once) in
//     bookie_autorecovery_entries_lost_total and logged, never invented. Its fragment is
//     left listing the missing bookie (were it to come back, the entry would be readable
//     again) and is tried again only after the registry changes.
//
// # Invariants
//
//   - Nothing is read from the replacement before the CAS that names it: the copy is
//     complete, entry by entry durable, when readers start using it.
//   - Every metadata change is a CAS on the ModRevision read, and made only while the
//     term is valid. Two workers acting at once (a paused leader past its deadline)
//     cannot break a ledger: one CAS wins, the other finds the fragment moved.
//   - Replacements come from registry.Writable: registered read-write, not draining, and
//     not already in the fragment's ensemble.
//
// UnderReplicated and LedgersOn (audit.go) answer from etcd alone, for the broker's
// admin API.
package autorecovery
