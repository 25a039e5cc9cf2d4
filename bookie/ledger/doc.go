// Package ledger is the ledger client: how a broker writes and reads a BookKeeper-style
// ledger striped over an ensemble of bookies, following BookKeeper's ledger protocol
// exactly (docs: DESIGN.md "The ledger protocol"; reference: pulsar-semantics.md §2).
//
// # Shape
//
// The protocol lives in two deterministic state machines without I/O, goroutines or
// clocks — inputs in, actions out, like etcd raft's RawNode and its Ready:
//
//   - WriteSM (writesm.go): one open ledger's writer. Append, Ack, BookieFailed,
//     Fenced, the results of ensemble-change CASes and Tick go in; Ready returns the
//     sends, the in-order completions, an ensemble change or the close to perform.
//   - RecoverySM (recoverysm.go): open-with-recovery. Fencing answers, reads and the
//     re-writes' acks go in; Ready returns fencing reads, reads, recovery adds and the
//     close.
//
// Their quorum arithmetic is in coverage.go. They are tested by scripted traces in
// testdata/write and testdata/recovery.
//
// The driver around them does the I/O: Client (client.go) owns one gRPC channel per
// bookie, addressed by bookie id and resolved through the registry (resolver.go), and
// one shared AddEntries stream per bookie that multiplexes every ledger (conn.go).
// Writer (writer.go) runs one goroutine per open ledger that owns its WriteSM;
// OpenRecover (recovery.go) runs a RecoverySM on the caller's goroutine; Reader
// (reader.go) reads with replica fallback and long-polls the LAC, a range in a few
// ReadEntries calls, one per bookie's share of it (rangeread.go). copy.go has the
// single-bookie primitives the auto-recovery worker (bookie/autorecovery) builds on:
// read one replica, write entries to one bookie with recovery adds, CAS the metadata.
//
// # Invariants kept
//
//  1. E ≥ Qw ≥ Qa ≥ 1 (Create refuses otherwise); entry e is stored on the Qw bookies at
//     ensemble positions e mod E … (e+Qw−1) mod E of the fragment holding e.
//  2. Ack rule: entry e is acknowledged to its caller only once Qa distinct members of
//     its write set acknowledged it durable and every entry below e was acknowledged.
//     So LAC only grows and every entry ≤ LAC is on ≥ Qa bookies.
//  3. Each add piggybacks the writer's LAC; an idle writer pushes it (lac_only) after
//     ExplicitLACDelay, so tailing readers see the last entry.
//  4. A failed bookie is replaced by a CAS that starts a fragment at LAC+1 (or rewrites
//     the last fragment in place when it already starts there). While a replacement is
//     outstanding nothing is acknowledged, so LAC+1 is still the first unacknowledged
//     entry when the CAS commits. Entries whose write set held the replaced position
//     lose that position's ack and are resent to the new bookie; acknowledged entries
//     never move.
//  5. A lost ensemble-change CAS is retried on the fresh metadata while it is still
//     OPEN; IN_RECOVERY or CLOSED ends the writer (ErrFenced / ErrClosed), as does
//     LEDGER_FENCED from any bookie. No spare bookie for a replacement fails the
//     pending adds with ErrNotEnoughBookies and ends the writer (it does not wait);
//     Close then still closes the ledger at the LAC.
//  6. Recovery: CAS to IN_RECOVERY; fence every bookie of the last ensemble with a
//     fencing ReadLAC and proceed only when every write set has < Qa unknown members
//     (ErrRecoveryCoverage otherwise, never a short close); read forward from
//     max(highest LAC, last fragment's first entry − 1) + 1; an entry is recovered by
//     one positive read and missing only after Qw−Qa+1 explicit NO_SUCH_ENTRY /
//     NO_SUCH_LEDGER answers from its write set; every recovered entry is re-written
//     (recovery adds) to its write set and must reach Qa acks — the normal add rule,
//     with ensemble changes if a bookie fails — before the CAS to CLOSED with the last
//     recovered entry. Concurrent recoverers converge on that CAS.
//  7. Readers read an open ledger only up to the LAC and a closed one up to LastEntry;
//     an entry comes from the first member of its write set, then the others on any
//     error; bytes failing their CRC32C are never returned.
//
// # Length
//
// A writer that closes knows every acknowledged payload size, so Length is exact.
// Recovery only reads the entries after the highest LAC; entries before it were never
// sized anywhere it can see without re-reading the whole ledger (the add protocol has
// no running-length field), which would make failover time grow with ledger size. So a
// recovered ledger's Length counts the entries recovery read and is flagged
// LengthIsLowerBound (exact when recovery started at entry 0).
//
// # Concurrency
//
// One goroutine owns each state machine. Stream goroutines hand results to it through
// an unbounded inbox, so a stream's receiver never waits on a writer that waits on the
// stream. Locks (each a named mu, never held across network I/O): Client.mu,
// bookieConn.mu, then addStream.mu, in that order when nested; Writer.mu,
// Reader.mu, inbox.mu and callbackQueue.mu are leaves.
package ledger
