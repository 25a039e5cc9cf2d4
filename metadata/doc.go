// Package metadata is Strata's one door to etcd.
//
// Everything Strata keeps outside the bookies — the bookie registry and cookies, ledger
// metadata, topics and their ledger lists, cursors, ownership and policies — lives in
// etcd under one root prefix and goes through a Store. The key layout is in keys.go and
// written down in docs/format/metadata.md.
//
// The invariants callers rely on:
//
//   - Every conditional write is a compare-and-swap on the key's ModRevision, which etcd
//     bumps on every change; Create is the special case "revision 0", put-if-absent.
//   - Ids from NextID are unique and strictly increasing across the whole cluster: they
//     are etcd revisions, which never repeat.
//   - A Watch delivers every change after the revision it starts from, in order. When etcd
//     has compacted that history away it re-lists the prefix and hands the caller a full
//     snapshot (a Reset event) before resuming, so a watcher never silently misses state.
//
// Embedded starts a real single-node etcd in-process (standalone mode and tests); it is
// the same server as a cluster's, only with fast timers.
package metadata
