// Package managedledger turns a list of ledgers into one unbounded, ordered log per
// topic, with cursors for its subscriptions.
//
// A managed ledger's record in etcd (Info) lists its ledgers in order. The broker that
// owns the topic opens it like this, and serves nothing before the last step succeeds:
//
//  1. read the record (create it if the topic is new);
//  2. recover every ledger that is not closed — the previous owner may have died while
//     writing, or while rolling over, so that can be the last two — which fences them on
//     the bookies, so the old owner can never again get an add acknowledged;
//  3. create a new ledger and CAS-append it to the record.
//
// If another broker did the same concurrently, one of the two CASes fails and that
// broker gives up the topic. A write that fails because the ledger was fenced means the
// topic has a new owner: the managed ledger turns itself Fenced and fails every add.
//
// Appends are pipelined through the ledger client and complete — their callbacks run —
// strictly in the order they were made, across rollovers. Rollover happens on the next
// append after the current ledger passes the entry count, size or age limit; new entries
// wait while the next ledger is created, the old one is closed in the background.
//
// Reads are served from an in-memory cache of recently appended entries when possible
// (tailing consumers), otherwise from the bookies.
//
// Invariants:
//   - LastConfirmed is the position of the last entry whose add completed successfully;
//     every entry up to it is durable on Qa bookies and readable.
//   - Ledgers are deleted only when every durable cursor's mark-delete is past them (and,
//     once retention exists, retention allows it), and never the current ledger.
package managedledger
