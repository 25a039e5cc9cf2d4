// Package server is a bookie's gRPC service (proto/bookie/v1) over its store.
//
// It adds what belongs to the wire and not to the disk: argument checks, the entry size
// limit, the per-stream ordering rule, read-only and shutdown refusals, response caps,
// long-poll deadlines, and the translation of store errors into the reason table of
// proto/bookie/v1/errors.go (docs/format/bookie-rpc.md).
//
// # AddEntries streams
//
// Each stream has three goroutines: a receiver, which receives requests and hands them
// to the store; one sender, the only goroutine that calls Send (a gRPC stream is not
// safe for concurrent sends); and the handler, which waits for the receiver to finish
// (the client closed its side or went away) or for Shutdown, drains, and ends the
// stream. The store completes adds on its completer goroutine; the completion only puts
// the response on the stream's buffered channel.
//
// Invariants:
//
//   - Every request except lac_only gets exactly one AddResponse; a per-entry failure is
//     carried in AddResponse.error and never ends the stream.
//   - At most Config.MaxInFlight requests of a stream are unanswered: the handler takes a
//     slot before handling a request and the sender frees it after sending the answer.
//     When all slots are taken the handler stops receiving, and gRPC flow control pushes
//     back on the client. The response channel has one place per slot, so a completion
//     never blocks the store's completer.
//   - On a stream, a normal add's entry id must be above every earlier well-formed
//     normal add of the same ledger on that stream (OUT_OF_ORDER otherwise). Recovery adds
//     are exempt: recovery re-writes entries in whatever order its reads return them.
//   - The handler returns only after every accepted add has been answered (or the client
//     is gone), so no store callback outlives its stream.
//   - Shutdown ends every stream from the bookie's side, after answering the adds in
//     flight, with BOOKIE_SHUTTING_DOWN: an idle client cannot hold the bookie open.
//
// Bad input — a malformed request, an oversized entry, a bad checksum — gets an error for
// that request only; it never panics and never disturbs another request or stream.
package server
