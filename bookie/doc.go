// Package bookie is the storage node: a store (bookie/store) served over gRPC
// (bookie/server), announced in etcd (bookie/registry), guarded by a cookie, and watched
// by a disk monitor that turns it read-only before the disk fills.
//
// Start brings a bookie up in this order, and Close takes it down in reverse:
//
//  1. connect to etcd (or use the given metadata.Store);
//  2. listen, which fixes the address and, by default, the bookie id;
//  3. check the cookie: the identity this data dir shares with etcd (cookie.go);
//  4. open the store and serve gRPC;
//  5. check the disk once, then register in etcd under a lease, read-only or read-write;
//  6. run the disk monitor and the registrar in the background.
//
// Invariants:
//
//   - A bookie never serves a data dir that etcd does not vouch for. A bookie that once
//     acknowledged entries and comes back with an empty (wiped) or foreign data dir
//     refuses to start: otherwise it would answer "no such entry" for entries it
//     acknowledged, and ledger recovery could truncate acknowledged data (BookKeeper's
//     cookie rule; docs/format/bookie.md).
//   - The registration reflects the mode: a read-only bookie is registered only under the
//     read-only prefix, so writers choosing ensembles skip it. One goroutine, the
//     registrar, owns the lease and the registration; the disk monitor only tells it the
//     mode changed. A lost lease is re-granted and the registration re-written.
//   - Read-only mode has hysteresis: entered at DiskUsageThreshold, left only below
//     DiskUsageLowWater, so the bookie does not flap around one value.
//   - Close unregisters before it stops serving, so writers stop choosing it first; it
//     stops gRPC (waiting for handlers) before closing the store, so no request touches
//     a closed store.
package bookie
