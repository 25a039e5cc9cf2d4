// Package server speaks the Pulsar binary protocol to clients: one goroutine reads and
// handles a connection's frames, one writes its outgoing frames in batches. It turns
// commands into calls on broker/service and service events (messages for a consumer, a
// producer closed by the broker) into frames.
//
// Rules the clients rely on (the protocol:
// https://pulsar.apache.org/docs/next/developing-binary-protocol/; the Go client's side
// of it: pulsar/internal/connection.go in github.com/apache/pulsar-client-go):
//   - CONNECTED is the first frame we send; nothing else before the handshake. The
//     handshake's answer is written before the writer goroutine starts, so a refused
//     CONNECT still gets its ERROR before the connection closes.
//   - SEND_RECEIPTs leave in send order per producer (the service calls back in order
//     and the writer keeps the order of its queue).
//   - We never send a command the client cannot handle (no REACHED_END_OF_TOPIC).
//   - A malformed frame ends that connection only; a bad message (checksum) gets a
//     SEND_ERROR; no client bytes can panic the broker.
//   - The client reacts to an error by its ServerError code. Codes for our errors come
//     from the broker's one table, broker/errcode; a handler chooses a code itself only
//     for a request it cannot serve (an unknown producer or consumer id, an unsupported
//     command, a malformed payload).
//
// Lifetimes: a connection has one context, cancelled when it closes. Handlers that do
// I/O (opening a topic for PRODUCER or SUBSCRIBE, a lookup, a seek) run on one
// goroutine each, with a context derived from it; the connection's teardown waits for
// them before it unregisters the producers and consumers.
//
// Who may wait for a connection: only its own goroutines. Code running on a shared
// goroutine — a topic's managed-ledger callbacks, a subscription's goroutine — only
// queues, without waiting: SEND answers go to conn.sendAnswers (bounded by the publish
// slots they hold), a consumer's frames to its outbox (outbox.go). So a client that
// stops reading stalls its own connection and nobody else's.
package server
